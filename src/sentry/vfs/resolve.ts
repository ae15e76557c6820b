// Path resolution in the sandbox's mount tree. Every path-taking syscall
// comes through here: the guest's path string is copied once, walked one
// component at a time, "..", symlinks (absolute ones restart at the task's
// root, never the host's) and mount points are handled by the Sentry, and
// only single names ever reach a file system's lookup (which may look the
// next ones up in the same request, Node.lookup's `ahead`).
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, NAME_MAX, PATH_MAX, SYMLOOP_MAX, X_OK } from '../../abi/linux.js';
import { type Creds, hasCap, requireAccess } from '../creds.js';
import { fail } from '../errors.js';
import { type Dentry, type Location, type Mount, walkEnded } from './node.js';

export interface ResolveContext {
  /** the task's root directory ("/" for the task), or openat2's dirfd with RESOLVE_IN_ROOT */
  root: Location;
  creds: Creds;
  /** openat2's restrictions (RESOLVE_* flags) */
  scope?: ResolveScope;
}

export interface ResolveScope {
  /** RESOLVE_BENEATH: leaving this directory (by "..", an absolute path or symlink) fails with EXDEV */
  beneath?: Location;
  /** RESOLVE_BENEATH or RESOLVE_IN_ROOT: magic links fail with EXDEV */
  scoped: boolean;
  /** RESOLVE_NO_XDEV: reaching another mount fails with EXDEV */
  noXdev?: Mount;
  /** RESOLVE_NO_SYMLINKS: following any symlink fails with ELOOP */
  noSymlinks: boolean;
  /** RESOLVE_NO_MAGICLINKS: following a magic link fails with ELOOP */
  noMagic: boolean;
}

function crossMounts(loc: Location): Location {
  let { mount, dentry } = loc;
  while (dentry.mounted) {
    mount = dentry.mounted;
    dentry = mount.root;
  }
  return mount === loc.mount ? loc : { mount, dentry };
}

function same(a: Location, b: Location): boolean {
  return a.mount === b.mount && a.dentry === b.dentry;
}

/** ".." of a location, never above the task's root. */
export function parentOf(ctx: ResolveContext, loc: Location): Location {
  let { mount, dentry } = loc;
  for (;;) {
    if (same({ mount, dentry }, ctx.root)) return ctx.root;
    if (dentry !== mount.root) break;
    if (!mount.parent || !mount.mountpoint) return { mount, dentry };
    dentry = mount.mountpoint;
    mount = mount.parent;
  }
  return { mount, dentry: dentry.parent ?? dentry };
}

function mustSearch(ctx: ResolveContext, dir: Dentry): void {
  const node = dir.node;
  if (!node.isDir()) fail('ENOTDIR');
  if (hasCap(ctx.creds, CAP_DAC_READ_SEARCH) || hasCap(ctx.creds, CAP_DAC_OVERRIDE)) return;
  const st = node.stat();
  requireAccess(ctx.creds, node, st, X_OK);
}

function split(path: string): string[] {
  return path.split('/').filter((c) => c !== '');
}

interface Walk {
  loc: Location;
  links: number;
}

/**
 * Walks `comps` from `w.loc`. The last component's symlink is followed when
 * `followLast`. Updates `w` in place.
 */
function walk(ctx: ResolveContext, w: Walk, comps: string[], followLast: boolean): void {
  try {
    walkComponents(ctx, w, comps, followLast);
  } finally {
    walkEnded();
  }
}

function walkComponents(ctx: ResolveContext, w: Walk, comps: string[], followLast: boolean): void {
  let queue = comps;
  for (let i = 0; i < queue.length; i++) {
    const name = queue[i]!;
    const last = i === queue.length - 1;
    mustSearch(ctx, w.loc.dentry);
    if (name === '.') continue;
    if (name === '..') {
      if (ctx.scope?.beneath && same(w.loc, ctx.scope.beneath)) fail('EXDEV');
      w.loc = parentOf(ctx, w.loc);
      staysOnMount(ctx, w.loc);
      continue;
    }
    if (name.length > NAME_MAX) fail('ENAMETOOLONG');
    const child = w.loc.dentry.child(name, last ? undefined : queue.slice(i + 1));
    if (!child) absent(w.loc, name);
    const next = crossMounts({ mount: w.loc.mount, dentry: child });
    if (next.dentry.node.isSymlink() && (!last || followLast)) {
      if (++w.links > SYMLOOP_MAX) fail('ELOOP');
      const magic = mayFollow(ctx, next);
      if (magic) {
        w.loc = magic;
        staysOnMount(ctx, w.loc);
        continue;
      }
      const target = next.dentry.node.readlink();
      if (target === '') fail('ENOENT');
      if (target.startsWith('/')) w.loc = absoluteStart(ctx);
      queue = [...split(target), ...queue.slice(i + 1)];
      i = -1;
      continue;
    }
    w.loc = next;
    staysOnMount(ctx, w.loc);
  }
}

/** ENOENT for a name `dir` lacks; one it hides (SandboxSpec.hidden) is reported to its file system's observer first. */
function absent(dir: Location, name: string): never {
  const node = dir.dentry.node;
  if (node.hides(name)) node.fs.onHidden?.(dir, name);
  fail('ENOENT');
}

/** Checks that symlink `loc` may be followed; returns its target when it is a magic link. */
function mayFollow(ctx: ResolveContext, loc: Location): Location | null {
  if (ctx.scope?.noSymlinks) fail('ELOOP');
  const magic = loc.dentry.node.magicLink();
  if (magic && ctx.scope?.scoped) fail('EXDEV');
  if (magic && ctx.scope?.noMagic) fail('ELOOP');
  return magic;
}

function staysOnMount(ctx: ResolveContext, loc: Location): void {
  if (ctx.scope?.noXdev && loc.mount !== ctx.scope.noXdev) fail('EXDEV');
}

/** Where an absolute path or symlink starts. */
function absoluteStart(ctx: ResolveContext): Location {
  if (ctx.scope?.beneath) fail('EXDEV');
  staysOnMount(ctx, ctx.root);
  return ctx.root;
}

function start(ctx: ResolveContext, from: Location, path: string): Location {
  if (path.length >= PATH_MAX) fail('ENAMETOOLONG');
  return path.startsWith('/') ? absoluteStart(ctx) : from;
}

/** Resolves `path` relative to `from`. A trailing slash requires a directory. */
export function resolve(ctx: ResolveContext, from: Location, path: string, followLast: boolean): Location {
  if (path === '') fail('ENOENT');
  const w: Walk = { loc: start(ctx, from, path), links: 0 };
  const trailingSlash = path.endsWith('/');
  walk(ctx, w, split(path), followLast || trailingSlash);
  if (trailingSlash && !w.loc.dentry.node.isDir()) fail('ENOTDIR');
  return w.loc;
}

export interface ParentAndName {
  parent: Location;
  /** the last component; "" for "/", may be "." or ".." */
  name: string;
  trailingSlash: boolean;
}

/** Resolves all but the last component (for create, unlink, rename, ...). */
export function resolveParent(ctx: ResolveContext, from: Location, path: string): ParentAndName {
  if (path === '') fail('ENOENT');
  const comps = split(path);
  const w: Walk = { loc: start(ctx, from, path), links: 0 };
  const name = comps.pop() ?? '';
  walk(ctx, w, comps, true);
  mustSearch(ctx, w.loc.dentry);
  if (name.length > NAME_MAX) fail('ENAMETOOLONG');
  return { parent: w.loc, name, trailingSlash: path.endsWith('/') };
}

/** Looks `name` up in `parent` (after resolveParent), crossing mounts, without following a final symlink. */
export function lookupChild(parent: Location, name: string): Location | null {
  const child = parent.dentry.child(name);
  return child ? crossMounts({ mount: parent.mount, dentry: child }) : null;
}

/** Follows a symlink at `loc` (resolved relative to its parent `dir`). */
export function followLink(ctx: ResolveContext, dir: Location, loc: Location): Location {
  const w: Walk = { loc: dir, links: 1 };
  const magic = mayFollow(ctx, loc);
  if (magic) {
    staysOnMount(ctx, magic);
    return magic;
  }
  const target = loc.dentry.node.readlink();
  if (target === '') fail('ENOENT');
  if (target.startsWith('/')) w.loc = absoluteStart(ctx);
  walk(ctx, w, split(target), true);
  return w.loc;
}

/** The absolute path of `loc` as seen from `root`; null when it lies outside `root`. */
export function pathOf(root: Location, loc: Location): string | null {
  const parts: string[] = [];
  let { mount, dentry } = loc;
  for (;;) {
    if (mount === root.mount && dentry === root.dentry) break;
    if (dentry === mount.root) {
      if (!mount.parent || !mount.mountpoint) return null;
      dentry = mount.mountpoint;
      mount = mount.parent;
      continue;
    }
    parts.push(dentry.name);
    if (!dentry.parent) return null;
    dentry = dentry.parent;
  }
  return '/' + parts.reverse().join('/');
}

/** What /proc's links and maps show for `loc`: its path, with " (deleted)" once its name is gone (as Linux's d_path). */
export function linkText(root: Location, loc: Location): string | null {
  const p = pathOf(root, loc);
  return p !== null && loc.dentry.dead ? `${p} (deleted)` : p;
}
