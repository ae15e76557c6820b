// The sandbox's mount table: the root (the Gofer's export, directly or under
// an in-memory overlay), then the spec's mounts in order. Mount points the
// tree lacks are made as directories of the Sentry's own (never on the host).
import fs from 'node:fs';
import path from 'node:path';
import { S_IFCHR, S_IFDIR, makedev } from '../../abi/linux.js';
import { ROOT_CREDS } from '../creds.js';
import { SandboxError } from '../errors.js';
import type { Kernel, MountSpec } from '../kernel.js';
import type { SandboxSpec } from '../spec.js';
import { addDevice, addTestChannel, buildDev, buildDevPts, ptsProbe, ptysOf, specialOpener } from './devfs.js';
import { GoferFs } from './goferfs.js';
import { MemDir, MemFs, MemSpecial } from './memfs.js';
import { Dentry, type FileSystem, type Location, Mount, type MountOptions, type Node } from './node.js';
import { OverlayFs, OverlayNode } from './overlayfs.js';
import { ProcFs } from './procfs.js';
import { followLink, lookupChild, pathOf, resolve, resolveParent } from './resolve.js';
import { DEFAULT_OVERLAY_SIZE } from '../limits.js';
import { buildSys } from './sysfs.js';
import { CgroupView } from './cgroupfs.js';

export interface MountTable {
  root: Location;
  all(): Mount[];
}

const CTX_CREDS = ROOT_CREDS;

/** Finds or makes the directory a mount goes on (or, for a bind mount, the file it may cover). */
function mountpoint(table: MountTable, dest: string, opener: ReturnType<typeof specialOpener>, fileOk: boolean): Location {
  const ctx = { root: table.root, creds: CTX_CREDS };
  const parts = dest.split('/').filter(Boolean);
  let loc = table.root;
  for (const [i, part] of parts.entries()) {
    let next: Location | null = null;
    try {
      next = resolve(ctx, loc, part, true);
    } catch {
      next = null;
    }
    if (!next) {
      // A directory that exists only in the Sentry's view, so nothing is
      // created on the host for it.
      const fs = new MemFs('tmpfs');
      const node: Node = new MemDir(fs, 0o755, 0, 0, opener);
      loc.dentry.children.set(part, new Dentry(part, loc.dentry, node));
      next = { mount: loc.mount, dentry: loc.dentry.children.get(part)! };
    }
    if (!next.dentry.node.isDir() && !(fileOk && i === parts.length - 1)) throw new Error(`mount point ${dest} is not a directory`);
    loc = next;
  }
  return loc;
}

export function buildMounts(k: Kernel, binds: MountSpec[]): MountTable {
  const spec = k.spec;
  const opener = specialOpener(k);
  const rootFs = new GoferFs(k.gofer, 0, true, k.fileIds);
  let fsys: FileSystem;
  let rootNode: Node;
  if (spec.overlay) {
    const o = new OverlayFs(rootFs.root, opener, spec.overlaySize ?? DEFAULT_OVERLAY_SIZE, spec.overlayInodes);
    fsys = o;
    rootNode = o.root;
  } else {
    fsys = rootFs;
    rootNode = rootFs.root;
  }
  const rootMount = new Mount(fsys, new Dentry('', null, rootNode), null, null, {
    readonly: spec.rootReadonly && !spec.overlay,
    // Host paths stay out of /proc/mounts (as runsc shows "none" for gofer mounts).
    source: spec.overlay ? 'overlay' : 'none',
    data: spec.overlay ? 'lowerdir=/,upperdir=memory' : undefined,
  });
  const mounts: Mount[] = [rootMount];
  const table: MountTable = { root: { mount: rootMount, dentry: rootMount.root }, all: () => mounts };
  // Before anything looks names up in the tree (mount points), so no lookup cached what is hidden.
  const hidden = fsys instanceof OverlayFs ? hide(k, fsys, table.root) : noOverlayToHide(spec.hidden);

  for (const m of spec.mounts) {
    const at = mountpoint(table, m.destination, opener, m.type === 'bind');
    let mfs: FileSystem;
    let root: Node;
    let source = m.source ?? m.type;
    const opts: Omit<MountOptions, 'source'> = { readonly: m.readonly ?? false, nosuid: true, nodev: true, noexec: false };
    switch (m.type) {
      case 'proc': {
        const p = new ProcFs(k);
        mfs = p;
        root = p.root;
        opts.noexec = true;
        break;
      }
      case 'sysfs': {
        const s = buildSys(opener);
        mfs = s.fs;
        root = s.root;
        opts.readonly = true;
        opts.noexec = true;
        break;
      }
      case 'dev': {
        const d = buildDev(opener, spec.console === undefined ? undefined : { pts: spec.console, probe: ptsProbe(k) });
        for (const dev of spec.devices ?? []) addDevice(d.root, dev);
        if (k.testChannel) addTestChannel(d.root, spec.testChannel!, k.testChannel);
        mfs = d.fs;
        root = d.root;
        source = m.source ?? 'tmpfs';
        opts.nodev = false;
        // Docker's and runc's /dev is mounted strictatime.
        opts.strictatime = true;
        break;
      }
      case 'devpts': {
        const ptys = ptysOf(k);
        if (spec.console !== undefined) ptys.add(spec.console);
        const d = buildDevPts(opener, ptsProbe(k), ptys);
        mfs = d.fs;
        root = d.root;
        opts.nodev = false;
        opts.noexec = true;
        break;
      }
      case 'tmpfs': {
        opts.nosuid = m.nosuid ?? true;
        opts.noexec = m.noexec ?? false;
        opts.nodev = m.nodev ?? true;
        const t = new MemFs('tmpfs', m.size ?? 0, m.inodes ?? 0, opts.noexec);
        mfs = t;
        root = new MemDir(t, S_IFDIR | (m.mode ?? 0o1777), m.uid ?? 0, m.gid ?? 0, opener);
        break;
      }
      case 'mqueue':
      case 'cgroup': {
        // With the container's hierarchies below it, a tmpfs that holds them, as runc's.
        const t = new MemFs(m.cgroupViews ? 'tmpfs' : m.type);
        if (m.cgroupViews) source = 'tmpfs';
        mfs = t;
        // mqueue roots are world-writable and sticky, as on Linux.
        root = new MemDir(t, S_IFDIR | (m.type === 'cgroup' ? 0o755 : 0o1777), 0, 0, opener);
        if (m.type === 'cgroup') opts.readonly = true;
        break;
      }
      case 'bind': {
        const id = binds.indexOf(m) + 1;
        const g = new GoferFs(k.gofer, id, false, k.fileIds);
        mfs = g;
        root = g.root;
        source = 'none';
        opts.nosuid = m.nosuid ?? true;
        break;
      }
    }
    const mount = new Mount(mfs, new Dentry('', null, root), at.mount, at.dentry, { ...opts, source, data: superblockOptions(m) });
    if (mfs instanceof ProcFs) mfs.mount = mount;
    mounts.push(mount);
    for (const v of m.cgroupViews ?? []) {
      const vat = mountpoint(table, path.posix.join(m.destination, v.name), opener, false);
      const view = new CgroupView(v.dir);
      mounts.push(new Mount(view, new Dentry('', null, view.root), vat.mount, vat.dentry, { readonly: true, nosuid: true, nodev: true, noexec: true, source: 'cgroup', data: v.controllers }));
    }
  }
  for (const h of hidden) reachableByBind(spec, h);
  for (const p of spec.readonlyPaths ?? []) {
    const at = existing(table, p);
    // The same tree again, read-only, as runc's read-only bind of the path onto itself.
    if (at) mounts.push(new Mount(at.mount.fs, new Dentry('', null, at.dentry.node), at.mount, at.dentry, { ...at.mount.opts, readonly: true }));
  }
  for (const p of spec.maskedPaths ?? []) {
    const at = existing(table, p);
    if (!at) continue;
    // runc's masks: an empty read-only tmpfs over a directory, /dev/null over anything else.
    const t = new MemFs('tmpfs');
    const node: Node = at.dentry.node.isDir()
      ? new MemDir(t, S_IFDIR | 0o755, 0, 0, opener)
      : new MemSpecial(t, S_IFCHR | 0o666, makedev(1, 3), 0, 0, opener);
    mounts.push(new Mount(t, new Dentry('', null, node), at.mount, at.dentry, { readonly: true, nosuid: true, nodev: false, noexec: true, source: 'tmpfs' }));
  }
  return table;
}

/**
 * What Linux's tmpfs shows after "rw" in /proc/mounts: the options that
 * differ from its defaults (shmem_show_options). The Sentry's /dev is a
 * tmpfs of 64 MiB, mode 755 (Docker's).
 */
function superblockOptions(m: MountSpec): string | undefined {
  if (m.type === 'dev') return 'size=65536k,mode=755';
  if (m.type !== 'tmpfs') return undefined;
  const out: string[] = [];
  if (m.size) out.push(`size=${Math.ceil(m.size / 4096) * 4}k`);
  if (m.inodes) out.push(`nr_inodes=${m.inodes}`);
  if (m.mode !== undefined && m.mode !== 0o1777) out.push(`mode=${m.mode.toString(8).padStart(3, '0')}`);
  if (m.uid) out.push(`uid=${m.uid}`);
  if (m.gid) out.push(`gid=${m.gid}`);
  return out.join(',') || undefined;
}

/** Hidden paths need the overlay: without it the root is written through, and nothing can stand in for a name. */
function noOverlayToHide(hidden: string[] | undefined): string[] {
  if (hidden?.length) throw new SandboxError(`cannot hide ${hidden[0]}: hidden paths need the overlay (the root is written through without it)`);
  return [];
}

/**
 * Hides each of spec.hidden behind a whiteout in the overlay's upper layer
 * (OverlayNode.hide); a symlink and what it points to are both hidden. A path
 * the host lacks needs nothing. Returns the sandbox paths hidden, as found
 * (intermediate symlinks followed).
 */
function hide(k: Kernel, o: OverlayFs, root: Location): string[] {
  const access = k.access;
  if (access) {
    o.onHidden = (dir, name) => {
      const t = k.current;
      if (t) access.hiddenHit(t, dir, name);
    };
  }
  const ctx = { root, creds: CTX_CREDS };
  const done: string[] = [];
  const hideAt = (parent: Location, name: string) => {
    if (!(parent.dentry.node instanceof OverlayNode) || parent.mount !== root.mount) return;
    parent.dentry.node.hide(name);
    parent.dentry.forget(name);
    done.push(pathOf(root, { mount: parent.mount, dentry: parent.dentry })!.replace(/\/?$/, `/${name}`));
  };
  for (const h of k.spec.hidden ?? []) {
    if (!h.startsWith('/')) throw new SandboxError(`hidden path ${h} is not absolute`);
    let at: { parent: Location; name: string };
    let found: Location | null;
    try {
      at = resolveParent(ctx, root, h);
      found = at.name === '' || at.name === '.' || at.name === '..' ? null : lookupChild(at.parent, at.name);
    } catch {
      continue;
    }
    if (!found) continue;
    let target: Location | null = null;
    if (found.dentry.node.isSymlink()) {
      try {
        target = followLink(ctx, at.parent, found);
      } catch {
        target = null;
      }
    }
    hideAt(at.parent, at.name);
    if (target?.dentry.parent) hideAt({ mount: target.mount, dentry: target.dentry.parent }, target.dentry.name);
  }
  return done;
}

/** A bind mount is not under the overlay: one that shows a hidden path (or lies within it) would undo the hiding. */
export function reachableByBind(spec: SandboxSpec, hidden: string): void {
  const host = path.join(spec.rootfs, hidden);
  const within = (a: string, b: string) => a === b || a.startsWith(b.endsWith('/') ? b : `${b}/`);
  for (const m of spec.mounts) {
    if (m.type !== 'bind' || !m.source) continue;
    let src = m.source;
    try {
      src = fs.realpathSync(m.source);
    } catch {
      // the Gofer reports a bind it cannot serve
    }
    if (within(host, src) || within(src, host)) {
      throw new SandboxError(`cannot hide ${hidden}: the bind mount of ${m.source} at ${m.destination} shows it, and bind mounts are not under the overlay`);
    }
  }
}

/** Where `dest` is in the tree, or null when it does not exist (masks and read-only paths skip those, as runc does). */
function existing(table: MountTable, dest: string): Location | null {
  try {
    return resolve({ root: table.root, creds: CTX_CREDS }, table.root, dest, false);
  } catch {
    return null;
  }
}
