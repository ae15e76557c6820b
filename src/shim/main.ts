// containerd-shim-tsvisor-v2: tsvisor's containerd runtime v2 shim
// (runtime_type "io.containerd.tsvisor.v2"). containerd runs it as
//
//   containerd-shim-tsvisor-v2 -namespace NS -address ADDR -publish-binary BIN -id ID start
//
// in the task's bundle: `start` makes sure a shim server runs for the task's
// group (a CRI pod: io.kubernetes.cri.sandbox-id names it; otherwise the
// task alone), prints its ttrpc socket's address and exits. That is
// answered by bin/containerd-shim-tsvisor-v2 itself, without Node; it starts
// the server, this program without an action, which serves
// containerd.task.v2.Task (src/shim/task.ts) for every task of its group
// until containerd shuts it down. `delete` cleans up after a server that
// died: it removes the task's container and prints a DeleteResponse.
import '../no-inspector.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createLogger } from '../log.js';
import { deleteContainer } from '../oci/container.js';
import { StateStore } from '../oci/state.js';
import { Publisher } from './events.js';
import { encode, timestamp } from './proto.js';
import { unmountRootfs } from './rootfs.js';
import { OPTIONS_FILE } from './options.js';
import { TaskService } from './task.js';
import { serve } from './ttrpc.js';

/** Where containerd's own shims put their sockets (defaults.DefaultStateDir/s). */
const SOCKET_DIR = '/run/containerd/s';
/** tsvisor's state for the shim's containers, a directory per namespace. */
const STATE_ROOT = '/run/containerd/tsvisor-v2';
/** Each server's pid, by its socket's name: how `start` finds a live one (bin/containerd-shim-tsvisor-v2). */
const PID_DIR = path.join(STATE_ROOT, 'shims');
const VALUE_FLAGS = new Set(['namespace', 'address', 'publish-binary', 'id', 'bundle', 'socket']);
const BOOL_FLAGS = new Set(['debug', 'v']);

class ShimUsage extends Error {}

/** This process is the server, started by `start`, which waits for its word on fd 3. */
let serving = false;

interface Args {
  flags: Record<string, string | boolean>;
  action: string | undefined;
}

/** Go-style flags (-name value, -name=value, -bool), then the action. */
function parseArgs(argv: readonly string[]): Args {
  const flags: Record<string, string | boolean> = {};
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const [name, inline] = argv[i]!.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
    if (BOOL_FLAGS.has(name)) flags[name] = inline === undefined || inline === 'true';
    else if (VALUE_FLAGS.has(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new ShimUsage(`flag -${name} needs a value`);
      flags[name] = v;
    } else throw new ShimUsage(`unknown flag -${name}`);
  }
  if (argv.length - i > 1) throw new ShimUsage(`one action expected, got: ${argv.slice(i).join(' ')}`);
  return { flags, action: argv[i] };
}

function required(a: Args, name: string): string {
  const v = a.flags[name];
  if (typeof v !== 'string' || v === '') throw new ShimUsage(`flag -${name} is required`);
  return v;
}

/** The socket's name for the shim of `group`, as containerd's shims name theirs (shim.SocketAddress). */
function socketName(containerdAddress: string, namespace: string, group: string): string {
  return createHash('sha256').update(`${containerdAddress}/${namespace}/${group}`).digest('hex');
}

function stateRoot(namespace: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(namespace)) throw new ShimUsage(`invalid namespace ${JSON.stringify(namespace)}`);
  return path.join(STATE_ROOT, namespace);
}

function canConnect(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection(sock);
    const timer = setTimeout(() => (c.destroy(), resolve(false)), 100);
    c.on('connect', () => (clearTimeout(timer), c.destroy(), resolve(true)));
    c.on('error', () => (clearTimeout(timer), resolve(false)));
  });
}

/** The server: serves the group's tasks on its socket; says "ok" on fd 3 once it listens. */
async function runServer(a: Args): Promise<number> {
  const namespace = required(a, 'namespace');
  const group = required(a, 'id');
  const containerdAddress = required(a, 'address');
  const name = socketName(containerdAddress, namespace, group);
  const sock = path.join(SOCKET_DIR, name);
  const pidFile = path.join(PID_DIR, name);
  // What ps shows, as for containerd's runc shim, and what start checks the pid file against.
  process.title = ['containerd-shim-tsvisor-v2', '-namespace', namespace, '-id', group, '-address', containerdAddress, ...(a.flags.debug ? ['-debug'] : [])].join(' ');
  let logFile = '/dev/null';
  try {
    // containerd copies what the shim writes to the bundle's fifo "log" into its own log.
    fs.closeSync(fs.openSync('log', fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    logFile = path.resolve('log');
  } catch {
    /* no reader: containerd does not collect this shim's log */
  }
  const log = createLogger({ file: logFile, format: 'json', debug: Boolean(a.flags.debug) });
  const events = new Publisher(process.env.TTRPC_ADDRESS || undefined, namespace, log);
  const server = net.createServer();
  const shutdown = async (): Promise<void> => {
    server.close();
    fs.rmSync(pidFile, { force: true });
    fs.rmSync(sock, { force: true });
    await events.flush();
    process.exit(0);
  };
  const tasks = new TaskService(stateRoot(namespace), namespace, events, log, () => void shutdown());
  serve(server, { 'containerd.task.v2.Task': tasks.methods() }, (e) => log.error({ error: e instanceof Error ? e.stack : String(e) }, 'task method failed'));
  fs.mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o711 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const mask = process.umask(0o177);
    server.listen(sock, () => {
      process.umask(mask);
      resolve();
    });
  }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EADDRINUSE') throw e;
    if (await canConnect(sock)) {
      // Another start made the group's server meanwhile: that one serves.
      fs.writeSync(3, 'ok\n');
      process.exit(0);
    }
    // The socket of a server that died.
    fs.rmSync(sock, { force: true });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
  });
  fs.mkdirSync(PID_DIR, { recursive: true, mode: 0o700 });
  fs.writeFileSync(`${pidFile}.tmp`, String(process.pid));
  fs.renameSync(`${pidFile}.tmp`, pidFile);
  fs.writeSync(3, 'ok\n');
  fs.closeSync(3);
  return new Promise(() => {});
}

/** The state root a task's options chose, as Create left it in the bundle. */
function chosenRoot(bundle: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(bundle, OPTIONS_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const root = (JSON.parse(text) as { root?: unknown }).root;
  if (typeof root !== 'string' || !path.isAbsolute(root)) throw new Error(`${path.join(bundle, OPTIONS_FILE)}: no state root`);
  return root;
}

/** `delete`: what is left of a task whose shim died, removed; prints the DeleteResponse. */
async function cleanup(a: Args): Promise<number> {
  const id = required(a, 'id');
  const bundle = typeof a.flags.bundle === 'string' ? a.flags.bundle : process.cwd();
  const root = chosenRoot(bundle) ?? stateRoot(required(a, 'namespace'));
  let pid = 0;
  try {
    pid = new StateStore(root).load(id).pid;
  } catch {
    /* never created, or removed already */
  }
  for (const w of await deleteContainer(root, id, true)) fs.writeSync(2, `containerd-shim-tsvisor-v2: warning: ${w}\n`);
  await unmountRootfs(bundle);
  // As runc's shim reports a container it had to kill: SIGKILL.
  fs.writeSync(1, encode('DeleteResponse', { pid, exit_status: 128 + 9, exited_at: timestamp(Date.now()) }));
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const a = parseArgs(argv);
  if (a.flags.v) {
    fs.writeSync(1, 'containerd-shim-tsvisor-v2 (tsvisor)\n');
    return 0;
  }
  switch (a.action) {
    case 'delete':
      return cleanup(a);
    case undefined:
      serving = true;
      return runServer(a);
  }
  throw new ShimUsage(`unknown action ${a.action} (delete, or none to serve; bin/containerd-shim-tsvisor-v2 answers start)`);
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    // The server's parent (start) waits for its word on fd 3; its stderr is nowhere.
    if (serving) fs.writeSync(3, `error ${msg}\n`);
    else fs.writeSync(2, `containerd-shim-tsvisor-v2: ${msg}\n`);
    process.exit(e instanceof ShimUsage ? 2 : 1);
  },
);
