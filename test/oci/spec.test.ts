// The OCI config.json loader: real specs recorded from docker, podman and ctr
// (test/oci/fixtures), their mapping onto the Sentry's SandboxSpec, hostile
// specs, exec process.json files, and `tsvisor spec`'s default against runc's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { defaultSpec } from '../../src/oci/default-spec.js';
import {
  type ContainerConfig,
  CAPABILITY_NAMES,
  SpecError,
  loadConfig,
  parseConfig,
  parseProcess,
  toSandboxSpec,
} from '../../src/oci/spec.js';
import type { SandboxSpec } from '../../src/sentry/spec.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-oci-spec-'));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

// Fixtures are edited freely in the tests, so their shape is left open.
type Json = Record<string, any>;

function fixture(name: string): Json {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as Json;
}

let bundles = 0;
/** A fresh bundle directory with an empty rootfs/ in it. */
function newBundle(): string {
  const dir = path.join(TMP, `bundle${++bundles}`);
  fs.mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
  return dir;
}

/**
 * A recorded config made runnable here: the root points at the bundle's
 * rootfs/, and each bind source (a path on the recording machine) becomes a
 * file of the same name under the bundle. Returns the config and the
 * original-to-new bind source map.
 */
function localize(raw: Json, bundle: string): { raw: Json; sources: Map<string, string> } {
  const c = structuredClone(raw);
  c.root.path = path.join(bundle, 'rootfs');
  const sources = new Map<string, string>();
  c.mounts.forEach((m: Json, i: number) => {
    if (m.type !== 'bind') return;
    const local = path.join(bundle, 'binds', String(i), path.basename(m.source as string));
    fs.mkdirSync(path.dirname(local), { recursive: true });
    if (m.destination === '/dev/shm') fs.mkdirSync(local);
    else fs.writeFileSync(local, '');
    sources.set(m.source as string, local);
    m.source = local;
  });
  return { raw: c, sources };
}

function load(name: string): { config: ContainerConfig; bundle: string; sources: Map<string, string>; raw: Json } {
  const bundle = newBundle();
  const { raw, sources } = localize(fixture(name), bundle);
  return { config: parseConfig(raw, bundle), bundle, sources, raw };
}

const OPTS = { overlay: true, network: 'none' as const, stdio: [0, 1, 2] as [number, number, number], strace: false };

/** The message of the SpecError f throws (fails the test when it throws anything else or nothing). */
function specError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as Error).message;
  }
  throw new Error('expected a SpecError, nothing was thrown');
}

const capNums = (...names: string[]) => names.map((n) => CAPABILITY_NAMES.indexOf(n));
const DOCKER_CAPS = capNums(
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
);
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('capability and limit tables', () => {
  it('numbers capabilities as linux/capability.h does', () => {
    expect(CAPABILITY_NAMES.length).toBe(41);
    expect(capNums('CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_ADMIN', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP', 'CAP_CHECKPOINT_RESTORE'))
      .toEqual([0, 5, 10, 13, 21, 27, 29, 31, 40]);
    expect(DOCKER_CAPS).toEqual([0, 1, 4, 3, 27, 13, 6, 7, 31, 8, 10, 18, 5, 29]);
  });
});

describe('docker config.json', () => {
  it('parses', () => {
    const { config, bundle, sources } = load('docker-config.json');
    expect(config.ociVersion).toBe('1.0.2-dev');
    expect(config.root).toEqual({ path: path.join(bundle, 'rootfs'), readonly: false });
    expect(config.hostname).toBe('f82bf6dcf68c');
    expect(config.domainname).toBeUndefined();
    expect(config.process).toEqual({
      args: ['sleep', '100'],
      env: [PATH, 'HOSTNAME=f82bf6dcf68c'],
      cwd: '/',
      uid: 0,
      gid: 0,
      additionalGids: [0],
      terminal: false,
      rlimits: [],
      capabilities: { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS, inheritable: [], ambient: [] },
      noNewPrivileges: false,
      oomScoreAdj: 0,
    });
    expect(config.mounts.map((m) => [m.destination, m.type])).toEqual([
      ['/proc', 'proc'],
      ['/dev', 'tmpfs'],
      ['/dev/pts', 'devpts'],
      ['/sys', 'sysfs'],
      ['/sys/fs/cgroup', 'cgroup'],
      ['/dev/mqueue', 'mqueue'],
      ['/dev/shm', 'tmpfs'],
      ['/etc/resolv.conf', 'bind'],
      ['/etc/hostname', 'bind'],
      ['/etc/hosts', 'bind'],
    ]);
    expect(config.mounts[7]!.source).toBe(
      sources.get('/var/lib/docker/containers/f82bf6dcf68ccf25342dc68ff6255932b29bed5b2a93621673b0c9f61cf0e48e/resolv.conf'),
    );
    expect(config.mounts[7]!.options).toEqual(['rbind', 'rprivate']);
    expect(config.hooks).toEqual({ prestart: [], createRuntime: [], createContainer: [], startContainer: [], poststart: [], poststop: [] });
    expect(config.namespaces).toEqual([{ type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }]);
    expect(config.netnsPath).toBeUndefined();
    expect(config.sysctl).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.ping_group_range': '0 2147483647' });
    expect(config.cgroupsPath).toBe('/docker/f82bf6dcf68ccf25342dc68ff6255932b29bed5b2a93621673b0c9f61cf0e48e');
    expect(config.resources).toEqual(expect.objectContaining({ memory: { disableOOMKiller: false }, cpu: { shares: 0 } }));
    expect((config.seccomp as Json).defaultAction).toBe('SCMP_ACT_ERRNO');
    expect((config.seccomp as Json).syscalls).toHaveLength(12);
    expect(config.maskedPaths).toHaveLength(10);
    expect(config.maskedPaths[0]).toBe('/proc/asound');
    expect(config.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    expect(config.annotations).toEqual({});
    expect(config.uidMappings).toEqual([]);
    expect(config.devices).toEqual([]);
  });

  it('maps to a SandboxSpec', () => {
    const { config, bundle, sources } = load('docker-config.json');
    const spec = toSandboxSpec(config, OPTS);
    const src = (name: string) => sources.get(`/var/lib/docker/containers/f82bf6dcf68ccf25342dc68ff6255932b29bed5b2a93621673b0c9f61cf0e48e/${name}`);
    expect(spec).toEqual<SandboxSpec>({
      rootfs: path.join(bundle, 'rootfs'),
      rootReadonly: false,
      overlay: true,
      network: 'none',
      args: ['sleep', '100'],
      env: [PATH, 'HOSTNAME=f82bf6dcf68c'],
      cwd: '/',
      uid: 0,
      gid: 0,
      groups: [0],
      umask: 0o022,
      hostname: 'f82bf6dcf68c',
      caps: { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS, inheritable: [], ambient: [] },
      noNewPrivs: false,
      rlimits: [],
      mounts: [
        { destination: '/proc', type: 'proc', readonly: false, source: 'proc' },
        { destination: '/dev', type: 'dev', readonly: false, source: 'tmpfs' },
        { destination: '/dev/pts', type: 'devpts', readonly: false, source: 'devpts' },
        { destination: '/sys', type: 'sysfs', readonly: true, source: 'sysfs' },
        { destination: '/sys/fs/cgroup', type: 'cgroup', readonly: true, source: 'cgroup' },
        { destination: '/dev/mqueue', type: 'mqueue', readonly: false, source: 'mqueue' },
        { destination: '/dev/shm', type: 'tmpfs', readonly: false, size: 67108864, mode: 0o1777, noexec: true, nodev: true, nosuid: true, source: 'shm' },
        { destination: '/etc/resolv.conf', type: 'bind', source: src('resolv.conf')!, readonly: false, nosuid: false },
        { destination: '/etc/hostname', type: 'bind', source: src('hostname')!, readonly: false, nosuid: false },
        { destination: '/etc/hosts', type: 'bind', source: src('hosts')!, readonly: false, nosuid: false },
      ],
      stdio: [0, 1, 2],
      foreground: false,
      sysctl: { 'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.ping_group_range': '0 2147483647' },
      devices: [],
      maskedPaths: [
        '/proc/asound',
        '/proc/acpi',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      strace: false,
    });
    expect(spec.caps.effective).toHaveLength(14);
  });

  it('passes the runtime options through', () => {
    const { config } = load('docker-config.json');
    const spec = toSandboxSpec(config, { overlay: false, network: 'host', stdio: [5, 6, 7], strace: true, foreground: true });
    expect([spec.overlay, spec.network, spec.stdio, spec.strace, spec.foreground]).toEqual([false, 'host', [5, 6, 7], true, true]);
  });

  it('rejects bind mounts whose source is missing on this host', () => {
    const bundle = newBundle();
    const raw = fixture('docker-config.json');
    raw.root.path = path.join(bundle, 'rootfs');
    expect(specError(() => parseConfig(raw, bundle))).toBe(
      'config.json: mounts[7].source "/var/lib/docker/containers/f82bf6dcf68ccf25342dc68ff6255932b29bed5b2a93621673b0c9f61cf0e48e/resolv.conf" does not exist on the host',
    );
  });

  it('rejects the recorded root, which does not exist here', () => {
    const bundle = newBundle();
    expect(specError(() => parseConfig(fixture('docker-config.json'), bundle))).toBe(
      'config.json: root.path "/var/lib/docker/overlay2/f66e1055b962a5145bb922162274addd1c26ec87f09ed36893f7cd3d24bce9f8/merged" does not exist',
    );
  });
});

describe('docker --network none config.json', () => {
  it('keeps the prestart hook and maps like docker', () => {
    const { config } = load('docker-network-none-config.json');
    expect(config.hostname).toBe('10e3a0f6706b');
    expect(config.hooks.prestart).toEqual([
      {
        path: '/proc/32225/exe',
        args: ['libnetwork-setkey', '-exec-root=/var/run/docker', '10e3a0f6706bb5775d684aad0eb0ec197697f6410f70e6dc3d0d04a3fe3db3c2', '5af85534f68f'],
      },
    ]);
    expect(config.hooks.poststop).toEqual([]);
    expect(config.netnsPath).toBeUndefined();
    const spec = toSandboxSpec(config, OPTS);
    expect(spec.args).toEqual(['true']);
    expect(spec.env).toEqual([PATH, 'HOSTNAME=10e3a0f6706b']);
    expect(spec.hostname).toBe('10e3a0f6706b');
    expect(spec.mounts.map((m) => m.type)).toEqual(['proc', 'dev', 'devpts', 'sysfs', 'cgroup', 'mqueue', 'tmpfs', 'bind', 'bind', 'bind']);
  });

  it('reports the path of a network namespace to join', () => {
    const bundle = newBundle();
    const { raw } = localize(fixture('docker-network-none-config.json'), bundle);
    raw.linux.namespaces[1] = { type: 'network', path: '/var/run/netns/cni-1234' };
    const config = parseConfig(raw, bundle);
    expect(config.netnsPath).toBe('/var/run/netns/cni-1234');
    expect(config.namespaces[1]).toEqual({ type: 'network', path: '/var/run/netns/cni-1234' });
    expect(config.namespaces[0]).toEqual({ type: 'mount' });
  });
});

describe('podman config.json', () => {
  it('parses and maps', () => {
    const { config, sources } = load('podman-config.json');
    const caps = capNums(
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE',
      'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
    );
    expect(config.process.umask).toBe(18);
    expect(config.process.additionalGids).toEqual([]);
    expect(config.process.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', resource: 7, soft: 20000, hard: 20000 },
      { type: 'RLIMIT_NPROC', resource: 6, soft: 32768, hard: 32768 },
    ]);
    expect(config.annotations['io.container.manager']).toBe('libpod');
    expect(Object.keys(config.annotations)).toHaveLength(8);
    expect(config.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }], pids: { limit: 2048 } });
    expect((config.seccomp as Json).defaultErrnoRet).toBe(38);
    expect(config.cgroupsPath).toBe('/libpod_parent/libpod-87b6317fc7e2e12bab0d92d5995bf1411b1d11a0734dc195e396893ebd7ecddc');

    const spec = toSandboxSpec(config, OPTS);
    expect(spec.args).toEqual(['sleep', '100']);
    expect(spec.env).toEqual([PATH, 'TERM=xterm', 'container=podman', 'HOME=/root', 'HOSTNAME=87b6317fc7e2']);
    expect(spec.cwd).toBe('/');
    expect(spec.hostname).toBe('87b6317fc7e2');
    expect(spec.umask).toBe(0o22);
    expect(spec.groups).toEqual([]);
    expect(spec.caps.effective).toEqual(caps);
    expect(spec.caps.effective).toHaveLength(11);
    expect(spec.rlimits).toEqual([
      [7, 20000, 20000],
      [6, 32768, 32768],
    ]);
    const userdata = '/run/containers/storage/overlay-containers/87b6317fc7e2e12bab0d92d5995bf1411b1d11a0734dc195e396893ebd7ecddc/userdata';
    expect(spec.mounts).toEqual([
      { destination: '/proc', type: 'proc', readonly: false, source: 'proc' },
      { destination: '/dev', type: 'dev', readonly: false, source: 'tmpfs' },
      { destination: '/sys', type: 'sysfs', readonly: true, source: 'sysfs' },
      { destination: '/dev/pts', type: 'devpts', readonly: false, source: 'devpts' },
      { destination: '/dev/mqueue', type: 'mqueue', readonly: false, source: 'mqueue' },
      { destination: '/run/.containerenv', type: 'bind', source: sources.get(`${userdata}/.containerenv`), readonly: false, nosuid: false },
      { destination: '/etc/hostname', type: 'bind', source: sources.get(`${userdata}/hostname`), readonly: false, nosuid: false },
      { destination: '/etc/hosts', type: 'bind', source: sources.get(`${userdata}/hosts`), readonly: false, nosuid: false },
      {
        destination: '/dev/shm',
        type: 'bind',
        source: sources.get('/var/lib/containers/storage/overlay-containers/87b6317fc7e2e12bab0d92d5995bf1411b1d11a0734dc195e396893ebd7ecddc/userdata/shm'),
        readonly: false,
        nosuid: true,
      },
      { destination: '/sys/fs/cgroup', type: 'cgroup', readonly: true, source: 'cgroup' },
    ]);
    expect(spec.mounts.every((m) => m.type !== 'bind' || fs.existsSync(m.source!))).toBe(true);
  });
});

describe('ctr (containerd) config.json', () => {
  it('loads from a bundle with a relative root', () => {
    const bundle = newBundle();
    fs.writeFileSync(path.join(bundle, 'config.json'), fs.readFileSync(path.join(FIXTURES, 'ctr-config.json')));
    const config = loadConfig(bundle);
    expect(config.root).toEqual({ path: path.join(bundle, 'rootfs'), readonly: false });
    expect(config.hostname).toBeUndefined();
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.cgroupsPath).toBe('/default/spec1');
    expect(config.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
    expect(config.seccomp).toBeUndefined();

    const spec = toSandboxSpec(config, OPTS);
    expect(spec.rootfs).toBe(path.join(bundle, 'rootfs'));
    expect(spec.args).toEqual(['sleep', '100']);
    expect(spec.env).toEqual([PATH]);
    expect(spec.hostname).toBe('localhost');
    expect(spec.domainname).toBeUndefined();
    expect(spec.caps.effective).toEqual(DOCKER_CAPS);
    expect(spec.rlimits).toEqual([[7, 1024, 1024]]);
    expect(spec.mounts).toEqual([
      { destination: '/proc', type: 'proc', readonly: false, source: 'proc' },
      { destination: '/dev', type: 'dev', readonly: false, source: 'tmpfs' },
      { destination: '/dev/pts', type: 'devpts', readonly: false, source: 'devpts' },
      { destination: '/dev/shm', type: 'tmpfs', readonly: false, size: 65536 * 1024, mode: 0o1777, noexec: true, nodev: true, nosuid: true, source: 'shm' },
      { destination: '/dev/mqueue', type: 'mqueue', readonly: false, source: 'mqueue' },
      { destination: '/sys', type: 'sysfs', readonly: true, source: 'sysfs' },
      { destination: '/run', type: 'tmpfs', readonly: false, size: 65536 * 1024, mode: 0o755, noexec: false, nodev: false, nosuid: true, source: 'tmpfs' },
    ]);
  });
});

describe('loadConfig', () => {
  it('names the bundle when config.json is missing', () => {
    const bundle = newBundle();
    expect(specError(() => loadConfig(bundle))).toBe(`bundle ${bundle}: config.json not found`);
    expect(specError(() => loadConfig(path.join(bundle, 'nope')))).toBe(`bundle ${bundle}/nope: no such directory`);
  });

  it('reports JSON syntax errors', () => {
    const bundle = newBundle();
    fs.writeFileSync(path.join(bundle, 'config.json'), '{"ociVersion": "1.0.2",');
    expect(specError(() => loadConfig(bundle))).toMatch(/^config\.json: not valid JSON: .+/);
  });
});

describe('hostile or broken specs', () => {
  /** ctr's config with its root in a fresh bundle, edited by `edit`. */
  function attempt(edit: (c: Json, bundle: string) => void): string {
    const bundle = newBundle();
    const raw = fixture('ctr-config.json');
    edit(raw, bundle);
    return specError(() => parseConfig(raw, bundle));
  }

  const cases: [string, (c: Json, bundle: string) => void, string | ((bundle: string) => string)][] = [
    ['an empty object', (c) => Object.keys(c).forEach((k) => delete c[k]), 'config.json: ociVersion is missing'],
    ['ociVersion missing', (c) => delete c.ociVersion, 'config.json: ociVersion is missing'],
    ['ociVersion 2', (c) => (c.ociVersion = '2.0.0'), 'config.json: ociVersion "2.0.0": tsvisor implements version 1 of the runtime spec'],
    ['ociVersion junk', (c) => (c.ociVersion = 'latest'), 'config.json: ociVersion "latest" is not a version such as 1.0.2'],
    ['ociVersion a number', (c) => (c.ociVersion = 1), 'config.json: ociVersion must be a string, not 1'],
    ['root missing', (c) => delete c.root, 'config.json: root is missing'],
    ['root that does not exist', (c) => (c.root.path = 'nothere'), (b) => `config.json: root.path "nothere" (${b}/nothere) does not exist`],
    [
      'relative root climbing out of the bundle',
      (c) => (c.root.path = '../../../../../../..'),
      (b) => `config.json: root.path "../../../../../../.." (${path.resolve(b, '../../../../../../..')}) is relative and leaves the bundle`,
    ],
    [
      'root that is a file',
      (c, b) => {
        fs.writeFileSync(path.join(b, 'file'), '');
        c.root.path = path.join(b, 'file');
      },
      (b) => `config.json: root.path "${b}/file" is not a directory`,
    ],
    ['root.readonly not a boolean', (c) => (c.root.readonly = 'yes'), 'config.json: root.readonly must be true or false, not "yes"'],
    [
      'a sysctl no namespace isolates',
      (c) => (c.linux.sysctl = { 'vm.swappiness': '10' }),
      'config.json: linux.sysctl["vm.swappiness"]: sysctl "vm.swappiness" is not in a separate kernel namespace',
    ],
    [
      'a network sysctl without a network namespace',
      (c) => {
        c.linux.namespaces = c.linux.namespaces.filter((n: Json) => n.type !== 'network');
        c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
      },
      'config.json: linux.sysctl["net.ipv4.ip_forward"]: sysctl "net.ipv4.ip_forward" needs a network namespace of the container\'s own',
    ],
    [
      'an IPC sysctl without an IPC namespace',
      (c) => {
        c.linux.namespaces = c.linux.namespaces.filter((n: Json) => n.type !== 'ipc');
        c.linux.sysctl = { 'fs.mqueue.msg_max': '20' };
      },
      'config.json: linux.sysctl["fs.mqueue.msg_max"]: sysctl "fs.mqueue.msg_max" needs an ipc namespace of the container\'s own',
    ],
    [
      'a host terminal',
      (c) => (c.linux.devices = [{ path: '/dev/ttyhost', type: 'c', major: 136, minor: 0 }]),
      'config.json: linux.devices[0]: /dev/ttyhost (c 136:0): tsvisor passes no host terminals',
    ],
    [
      'a block device',
      (c) => (c.linux.devices = [{ path: '/dev/sda', type: 'b', major: 8, minor: 0 }]),
      'config.json: linux.devices[0]: /dev/sda (b 8:0): tsvisor passes character devices only',
    ],
    [
      'a device node outside /dev',
      (c) => (c.linux.devices = [{ path: '/etc/null', type: 'c', major: 1, minor: 3 }]),
      'config.json: linux.devices[0]: /etc/null: device nodes can only be made under /dev',
    ],
    ['a sysctl name with a path in it', (c) => (c.linux.sysctl = { 'net.../../x': '1' }), 'config.json: linux.sysctl["net.../../x"]: not a sysctl name'],
    ['a sysctl value with a newline', (c) => (c.linux.sysctl = { 'net.ipv4.ip_forward': '1\n0' }), 'config.json: linux.sysctl["net.ipv4.ip_forward"]: the value contains a newline or NUL'],
    ['mount destination relative', (c) => (c.mounts[3].destination = '../etc'), 'config.json: mounts[3].destination "../etc" must be an absolute path inside the container'],
    ['mount destination climbing out', (c) => (c.mounts[2].destination = '/dev/../../etc'), 'config.json: mounts[2].destination "/dev/../../etc" must not contain ".." components'],
    ['mount destination with a harmless ..', (c) => (c.mounts[2].destination = '/dev/../dev/pts'), 'config.json: mounts[2].destination "/dev/../dev/pts" must not contain ".." components'],
    ['mount destination /', (c) => (c.mounts[0].destination = '/'), `config.json: mounts[0].destination "/" would replace the container's root (that is root.path)`],
    ['mount destination //.', (c) => (c.mounts[0].destination = '//.'), `config.json: mounts[0].destination "//." would replace the container's root (that is root.path)`],
    ['mount destination not a string', (c) => (c.mounts[1].destination = 7), 'config.json: mounts[1].destination must be a string, not 7'],
    ['mount destination with NUL', (c) => (c.mounts[1].destination = '/a\0b'), 'config.json: mounts[1].destination "/a\\u0000b" contains a NUL byte'],
    ['unknown mount type', (c) => (c.mounts[6].type = 'overlay'), 'config.json: mounts[6].type "overlay" is not supported (tsvisor mounts bind, tmpfs, proc, sysfs, devpts, mqueue and cgroup)'],
    ['mount without a type or bind option', (c) => delete c.mounts[6].type, 'config.json: mounts[6].type "none" is not supported (tsvisor mounts bind, tmpfs, proc, sysfs, devpts, mqueue and cgroup)'],
    ['bind without a source', (c) => c.mounts.push({ destination: '/data', type: 'bind', options: ['rbind'] }), 'config.json: mounts[7].source is required for a bind mount'],
    [
      'bind from a relative source missing in the bundle',
      (c) => c.mounts.push({ destination: '/data', type: 'none', source: 'data', options: ['bind', 'ro'] }),
      (b) => `config.json: mounts[7].source "${b}/data" does not exist on the host`,
    ],
    ['tmpfs size junk', (c) => (c.mounts[6].options = ['size=lots']), 'config.json: mounts[6].options[0] "size=lots": the size must be a number of bytes with an optional k, m, g suffix or %'],
    ['tmpfs nr_inodes junk', (c) => (c.mounts[6].options = ['nr_inodes=5%']), 'config.json: mounts[6].options[0] "nr_inodes=5%": nr_inodes must be a number with an optional k, m, g suffix'],
    ['tmpfs uid junk', (c) => (c.mounts[6].options = ['uid=root']), 'config.json: mounts[6].options[0] "uid=root": the id must be a number below 4294967295'],
    ['tmpfs mode not octal', (c) => (c.mounts[6].options = ['nosuid', 'mode=999']), 'config.json: mounts[6].options[1] "mode=999": the mode must be octal, at most 7777'],
    ['tmpfs mode too big', (c) => (c.mounts[6].options = ['mode=17777']), 'config.json: mounts[6].options[0] "mode=17777": the mode must be octal, at most 7777'],
    ['mount options not strings', (c) => (c.mounts[0].options = ['ro', 1]), 'config.json: mounts[0].options[1] must be a string, not 1'],
    ['unknown namespace', (c) => (c.linux.namespaces[2].type = 'foo'), 'config.json: linux.namespaces[2].type "foo" is not a namespace type (pid, network, mount, ipc, uts, user, cgroup, time)'],
    ['duplicate namespace', (c) => c.linux.namespaces.push({ type: 'pid' }), 'config.json: linux.namespaces[5]: namespace type "pid" is already listed at linux.namespaces[0]'],
    ['relative namespace path', (c) => (c.linux.namespaces[4].path = 'proc/1/ns/net'), 'config.json: linux.namespaces[4].path "proc/1/ns/net" must be an absolute host path'],
    ['unknown rlimit', (c) => (c.process.rlimits[0].type = 'RLIMIT_FUN'), 'config.json: process.rlimits[0].type "RLIMIT_FUN" is not a resource limit (RLIMIT_NOFILE, RLIMIT_NPROC, ...)'],
    ['rlimit soft above hard', (c) => (c.process.rlimits[0] = { type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }), 'config.json: process.rlimits[0]: soft limit 10 above hard limit 5'],
    ['rlimit negative', (c) => (c.process.rlimits[0].soft = -1), 'config.json: process.rlimits[0].soft must be a non-negative integer, not -1'],
    ['rlimit fractional', (c) => (c.process.rlimits[0].hard = 1.5), 'config.json: process.rlimits[0].hard must be a non-negative integer, not 1.5'],
    ['rlimit a string', (c) => (c.process.rlimits[0].hard = '1024'), 'config.json: process.rlimits[0].hard must be a non-negative integer, not "1024"'],
    ['rlimit above 2^64-1', (c) => (c.process.rlimits[0].hard = 1e20), 'config.json: process.rlimits[0].hard 100000000000000000000 is above 2^64-1'],
    [
      'rlimit set twice',
      (c) => c.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }),
      'config.json: process.rlimits[1]: RLIMIT_NOFILE is already set by process.rlimits[0]',
    ],
    ['uid above 65535', (c) => (c.process.user.uid = 65536), 'config.json: process.user.uid 65536 is out of range 0..65535 (tsvisor maps container ids 0..65535)'],
    ['gid negative', (c) => (c.process.user.gid = -1), 'config.json: process.user.gid -1 is out of range 0..65535 (tsvisor maps container ids 0..65535)'],
    ['uid fractional', (c) => (c.process.user.uid = 0.5), 'config.json: process.user.uid must be an integer, not 0.5'],
    ['additional gid too big', (c) => (c.process.user.additionalGids = [0, 100000]), 'config.json: process.user.additionalGids[1] 100000 is out of range 0..65535 (tsvisor maps container ids 0..65535)'],
    ['umask too big', (c) => (c.process.user.umask = 0o1000), 'config.json: process.user.umask 512 is out of range 0..511'],
    ['process missing', (c) => delete c.process, 'config.json: process is missing'],
    ['process not an object', (c) => (c.process = ['sh']), 'config.json: process must be a JSON object, not ["sh"]'],
    ['args empty', (c) => (c.process.args = []), 'config.json: process.args must name a program to run (it is empty)'],
    ['args missing', (c) => delete c.process.args, 'config.json: process.args must name a program to run (it is missing)'],
    ['args not strings', (c) => (c.process.args = ['sh', null]), 'config.json: process.args[1] must be a string, not null'],
    ['cwd relative', (c) => (c.process.cwd = 'tmp'), 'config.json: process.cwd "tmp" must be an absolute path'],
    ['cwd missing', (c) => delete c.process.cwd, 'config.json: process.cwd must be a string, not undefined'],
    ['env without =', (c) => c.process.env.push('JUSTANAME'), 'config.json: process.env[1] "JUSTANAME" must have the form NAME=VALUE'],
    ['env without a name', (c) => c.process.env.push('=value'), 'config.json: process.env[1] "=value" must have the form NAME=VALUE'],
    ['terminal not a boolean', (c) => (c.process.terminal = 1), 'config.json: process.terminal must be true or false, not 1'],
    ['unknown capability', (c) => c.process.capabilities.effective.push('CAP_FLY'), 'config.json: process.capabilities.effective[14] "CAP_FLY" is not a capability name (CAP_CHOWN, CAP_KILL, ...)'],
    ['capability without the CAP_ prefix', (c) => (c.process.capabilities.bounding = ['chown']), 'config.json: process.capabilities.bounding[0] "chown" is not a capability name (CAP_CHOWN, CAP_KILL, ...)'],
    ['oomScoreAdj out of range', (c) => (c.process.oomScoreAdj = 1001), 'config.json: process.oomScoreAdj 1001 is out of range -1000..1000'],
    ['hook with a relative path', (c) => (c.hooks = { poststop: [{ path: 'cleanup.sh' }] }), 'config.json: hooks.poststop[0].path "cleanup.sh" must be an absolute host path'],
    ['hook with a zero timeout', (c) => (c.hooks = { prestart: [{ path: '/bin/true', timeout: 0 }] }), 'config.json: hooks.prestart[0].timeout 0 is out of range 1..2147483647'],
    ['hook env without =', (c) => (c.hooks = { createRuntime: [{ path: '/bin/true', env: ['X'] }] }), 'config.json: hooks.createRuntime[0].env[0] "X" must have the form NAME=VALUE'],
    ['hooks not an object', (c) => (c.hooks = []), 'config.json: hooks must be a JSON object, not []'],
    ['seccomp default action unknown', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_MAYBE' }), 'config.json: linux.seccomp.defaultAction "SCMP_ACT_MAYBE" is not a seccomp action (SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY)'],
    [
      'seccomp names not an array',
      (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: 'read', action: 'SCMP_ACT_ALLOW' }] }),
      'config.json: linux.seccomp.syscalls[0].names must be a non-empty array of syscall names',
    ],
    [
      'seccomp names not strings',
      (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 0], action: 'SCMP_ACT_ALLOW' }] }),
      'config.json: linux.seccomp.syscalls[0].names[1] must be a string, not 0',
    ],
    ['uid mapping of size 0', (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }]), 'config.json: linux.uidMappings[0].size 0 is out of range 1..4294967295'],
    ['sysctl value not a string', (c) => (c.linux.sysctl = { 'net.ipv4.ip_forward': 1 }), 'config.json: linux.sysctl["net.ipv4.ip_forward"] must be a string, not 1'],
    ['masked path relative', (c) => c.linux.maskedPaths.push('proc/kcore'), 'config.json: linux.maskedPaths[10] "proc/kcore" must be an absolute path'],
    ['device of an unknown type', (c) => (c.linux.devices = [{ path: '/dev/fuse', type: 'x', major: 10, minor: 229 }]), 'config.json: linux.devices[0].type "x" must be one of c, b, u, p'],
    ['annotation not a string', (c) => (c.annotations = { a: true }), 'config.json: annotations["a"] must be a string, not true'],
    ['hostname too long', (c) => (c.hostname = 'h'.repeat(65)), `config.json: hostname "${'h'.repeat(65)}" is longer than 64 characters`],
  ];

  it.each(cases)('%s', (_name, edit, expected) => {
    let bundle = '';
    const msg = attempt((c, b) => {
      bundle = b;
      edit(c, b);
    });
    expect(msg).toBe(typeof expected === 'string' ? expected : expected(bundle));
  });

  it('rejects documents that are not objects', () => {
    const bundle = newBundle();
    expect(specError(() => parseConfig(null, bundle))).toBe('config.json: the document must be a JSON object, not null');
    expect(specError(() => parseConfig([], bundle))).toBe('config.json: the document must be a JSON object, not []');
  });
});

describe('what hostile-looking specs may do', () => {
  function parse(edit: (c: Json, bundle: string) => void): ContainerConfig {
    const bundle = newBundle();
    const raw = fixture('ctr-config.json');
    edit(raw, bundle);
    return parseConfig(raw, bundle);
  }

  it('normalises mount destinations', () => {
    const c = parse((c) => (c.mounts[6].destination = '//run/./user//'));
    expect(c.mounts[6]!.destination).toBe('/run/user');
  });

  it('treats rlimit values of 2^63 and above as unlimited', () => {
    // 18446744073709551615 (RLIM_INFINITY as Go writes it) and 2^63.
    const bundle = newBundle();
    const text = fs
      .readFileSync(path.join(FIXTURES, 'ctr-config.json'), 'utf8')
      .replace('"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]', '"rlimits":[{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":9223372036854775808},{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":4096}]');
    const c = parseConfig(JSON.parse(text), bundle);
    expect(toSandboxSpec(c, OPTS).rlimits).toEqual([
      [4, -1, -1],
      [7, 4096, -1],
    ]);
  });

  it('checks when the sandbox is made, not when config.json is read (delete must work after a device is gone), that the host has each device passed through', () => {
    const c = parse((c) => (c.linux.devices = [{ path: '/dev/nothing', type: 'c', major: 10, minor: 99999 }]));
    expect(specError(() => toSandboxSpec(c, OPTS))).toBe('config.json: linux.devices[0]: /dev/nothing (c 10:99999): the host has no such character device');
  });

  it('reads tmpfs options as mount(8) does, and ro/rw, exec/noexec, dev/nodev, nosuid/suid last-wins', () => {
    const c = parse((c, b) => {
      fs.writeFileSync(path.join(b, 'data'), '');
      c.mounts = [
        { destination: '/a', type: 'tmpfs', options: ['size=64m', 'mode=700', 'noexec', 'nodev', 'nosuid'] },
        { destination: '/b', type: 'tmpfs', source: 'shm', options: ['size=1G', 'ro', 'nr_inodes=2k', 'uid=5', 'gid=6'] },
        { destination: '/c', type: 'tmpfs', options: ['size=4096', 'mode=01777', 'ro', 'rw', 'noexec', 'exec', 'nodev', 'dev', 'nosuid', 'suid'] },
        { destination: '/d', type: 'tmpfs', options: ['size=50%'] },
        { destination: '/e', source: 'data', options: ['rbind', 'rw', 'ro', 'suid', 'nosuid'] },
        { destination: '/f', type: 'cgroup2', source: 'cgroup' },
      ];
    });
    const flags = { noexec: false, nodev: false, nosuid: false, source: 'tmpfs' };
    expect(toSandboxSpec(c, OPTS).mounts).toEqual([
      { destination: '/dev', type: 'dev' },
      { destination: '/a', type: 'tmpfs', readonly: false, size: 64 * 2 ** 20, mode: 0o700, ...flags, noexec: true, nodev: true, nosuid: true },
      { destination: '/b', type: 'tmpfs', readonly: true, size: 2 ** 30, inodes: 2048, uid: 5, gid: 6, ...flags, source: 'shm' },
      { destination: '/c', type: 'tmpfs', readonly: false, size: 4096, mode: 0o1777, ...flags },
      { destination: '/d', type: 'tmpfs', readonly: false, size: Math.floor(os.totalmem() / 2), ...flags },
      { destination: '/e', type: 'bind', readonly: true, nosuid: true, source: path.join(path.dirname(c.root.path), 'data') },
      { destination: '/f', type: 'cgroup', readonly: true, source: 'cgroup' },
    ]);
  });

  it('keeps hooks with their arguments, environment and timeout', () => {
    const c = parse((c) => {
      c.hooks = {
        createRuntime: [{ path: '/usr/bin/nvidia-hook', args: ['nvidia-hook', 'prestart'], env: ['A=1'], timeout: 5 }],
        poststop: [{ path: '/bin/true' }, { path: '/bin/false' }],
        unknownKind: [{ path: 'relative is fine here, it is ignored' }],
      };
    });
    expect(c.hooks.createRuntime).toEqual([{ path: '/usr/bin/nvidia-hook', args: ['nvidia-hook', 'prestart'], env: ['A=1'], timeout: 5 }]);
    expect(c.hooks.poststop.map((h) => h.path)).toEqual(['/bin/true', '/bin/false']);
    expect(c.hooks.prestart).toEqual([]);
  });

  it('maps uid, gid, groups, domainname and the capability sets', () => {
    const c = parse((c) => {
      c.process.user = { uid: 1000, gid: 100, additionalGids: [10, 65535], umask: 0o077 };
      c.process.capabilities = { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL', 'CAP_KILL'] };
      c.domainname = 'example.org';
      c.hostname = '';
      c.ociVersion = '1.1.0';
    });
    const spec = toSandboxSpec(c, OPTS);
    expect([spec.uid, spec.gid, spec.groups, spec.umask]).toEqual([1000, 100, [10, 65535], 0o077]);
    expect(spec.caps).toEqual({ bounding: [5, 0], effective: [5], permitted: [], inheritable: [], ambient: [] });
    expect(spec.domainname).toBe('example.org');
    expect(spec.hostname).toBe('localhost');
  });
});

describe('exec process.json files', () => {
  it('parse with parseProcess', () => {
    const docker = parseProcess(fixture('docker-exec-process.json'));
    expect(docker.args).toEqual(['true']);
    expect(docker.env).toEqual([PATH, 'HOSTNAME=f82bf6dcf68c']);
    expect(docker.terminal).toBe(false);
    expect(docker.capabilities.effective).toEqual(DOCKER_CAPS);
    expect(docker.oomScoreAdj).toBe(0);
    expect(docker.additionalGids).toEqual([0]);

    const tty = parseProcess(fixture('docker-exec-tty-process.json'));
    expect(tty.terminal).toBe(true);
    expect(tty.env).toEqual([PATH, 'HOSTNAME=f82bf6dcf68c', 'TERM=xterm']);

    const podman = parseProcess(fixture('podman-exec-process.json'));
    expect(podman.env).toEqual([PATH, 'TERM=xterm', 'container=podman', 'HOME=/root']);
    expect(podman.rlimits.map((r) => [r.resource, r.soft, r.hard])).toEqual([
      [7, 20000, 20000],
      [6, 32768, 32768],
    ]);
    expect(podman.capabilities.bounding).toHaveLength(11);
    expect(podman.umask).toBeUndefined();

    const ctr = parseProcess(fixture('ctr-exec-process.json'));
    expect(ctr.args).toEqual(['true']);
    expect(ctr.noNewPrivileges).toBe(true);
    expect(ctr.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', resource: 7, soft: 1024, hard: 1024 }]);
  });

  it('name the field, or the file, in errors', () => {
    const p = fixture('docker-exec-process.json');
    p.cwd = 'relative';
    expect(specError(() => parseProcess(p))).toBe('process.cwd "relative" must be an absolute path');
    expect(specError(() => parseProcess(p, 'process.json'))).toBe('process.json: cwd "relative" must be an absolute path');
    expect(specError(() => parseProcess('sh', 'process.json'))).toBe('process.json: the document must be a JSON object, not "sh"');
    const q = fixture('podman-exec-process.json');
    q.user.uid = 70000;
    expect(specError(() => parseProcess(q, 'process.json'))).toBe('process.json: user.uid 70000 is out of range 0..65535 (tsvisor maps container ids 0..65535)');
  });
});

describe('defaultSpec', () => {
  /** runc 1.1.5's `runc spec` output (fixtures), with the differences default-spec.ts documents. */
  function runcWithOurDifferences(rootless: boolean): Json {
    const runc = fixture(rootless ? 'runc-spec-rootless-config.json' : 'runc-spec-config.json');
    runc.hostname = 'tsvisor';
    const ns = runc.linux.namespaces as Json[];
    ns.splice(rootless ? 4 : 5, 0, { type: 'cgroup' });
    if (rootless) {
      runc.mounts[5] = { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };
      runc.linux.uidMappings[0].hostID = process.geteuid!();
      runc.linux.gidMappings[0].hostID = process.getegid!();
    }
    return runc;
  }

  it('matches runc spec, but for the documented differences', () => {
    expect(defaultSpec({})).toEqual(runcWithOurDifferences(false));
    expect(defaultSpec({ rootless: true })).toEqual(runcWithOurDifferences(true));
    // Key order too, so the written file reads like runc's.
    expect(JSON.stringify(defaultSpec({}))).toBe(JSON.stringify(runcWithOurDifferences(false)));
  });

  it('round-trips through parseConfig and maps to a SandboxSpec', () => {
    const bundle = newBundle();
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(defaultSpec({}), null, '\t'));
    const c = loadConfig(bundle);
    expect(c.root).toEqual({ path: path.join(bundle, 'rootfs'), readonly: true });
    expect(c.process.terminal).toBe(true);
    expect(c.process.noNewPrivileges).toBe(true);
    expect(c.process.capabilities.ambient).toEqual([29, 5, 10]);
    expect(c.namespaces.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']);
    const spec = toSandboxSpec(c, OPTS);
    expect(spec.rootReadonly).toBe(true);
    expect(spec.args).toEqual(['sh']);
    expect(spec.env).toEqual([PATH, 'TERM=xterm']);
    expect(spec.hostname).toBe('tsvisor');
    expect(spec.caps.effective).toEqual([29, 5, 10]);
    expect(spec.rlimits).toEqual([[7, 1024, 1024]]);
    expect(spec.mounts.map((m) => [m.destination, m.type])).toEqual([
      ['/proc', 'proc'],
      ['/dev', 'dev'],
      ['/dev/pts', 'devpts'],
      ['/dev/shm', 'tmpfs'],
      ['/dev/mqueue', 'mqueue'],
      ['/sys', 'sysfs'],
      ['/sys/fs/cgroup', 'cgroup'],
    ]);

    const rootless = parseConfig(defaultSpec({ rootless: true }), bundle);
    expect(rootless.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user']);
    expect(rootless.uidMappings).toEqual([{ containerID: 0, hostID: process.geteuid!(), size: 1 }]);
    expect(rootless.gidMappings).toEqual([{ containerID: 0, hostID: process.getegid!(), size: 1 }]);
    expect(rootless.resources).toBeUndefined();
  });
});
