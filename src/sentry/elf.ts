// What exec needs to know of an x86-64 ELF image: whether it names an
// interpreter (PT_INTERP), and its entry point. Read from the file the
// Sentry checked, with the kernel's own limits (fs/binfmt_elf.c).
import fs from 'node:fs';
import { ELFCLASS64, EM_X86_64, PATH_MAX, PT_INTERP } from '../abi/linux.js';

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
/** binfmt_elf's load_elf_phdrs refuses more than a page of program headers */
const PHDRS_MAX = 4096;

export interface ElfImage {
  entry: number;
  /** the PT_INTERP path, or null without one (or where the kernel would refuse the image, which it then does itself) */
  interp: string | null;
}

function u64(b: Buffer, off: number): number {
  return Number(b.readBigUInt64LE(off));
}

/** `size` bytes at `offset` of the file in `fd`, from `head` (its first bytes) when they hold them; null past the end. */
function bytesAt(fd: number, head: Buffer, offset: number, size: number): Buffer | null {
  if (!Number.isSafeInteger(offset + size)) return null;
  if (offset + size <= head.length) return head.subarray(offset, offset + size);
  const b = Buffer.alloc(size);
  return fs.readSync(fd, b, 0, size, offset) === size ? b : null;
}

/** Reads the x86-64 ELF image in `fd` (`head`: its first bytes, read already); null for anything else (the kernel decides). */
export function readElf(fd: number, head: Buffer): ElfImage | null {
  const eh = bytesAt(fd, head, 0, EHDR_SIZE);
  if (!eh) return null;
  if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== ELFCLASS64 || eh.readUInt16LE(18) !== EM_X86_64) return null;
  const entry = u64(eh, 24);
  const phoff = u64(eh, 32);
  const phentsize = eh.readUInt16LE(54);
  const phnum = eh.readUInt16LE(56);
  if (phentsize !== PHDR_SIZE || phnum < 1 || phnum * PHDR_SIZE > PHDRS_MAX) return null;
  const ph = bytesAt(fd, head, phoff, phnum * PHDR_SIZE);
  if (!ph) return null;
  for (let i = 0; i < phnum; i++) {
    const o = i * PHDR_SIZE;
    if (ph.readUInt32LE(o) !== PT_INTERP) continue;
    const offset = u64(ph, o + 8);
    const size = u64(ph, o + 32);
    if (size > PATH_MAX || size < 2) return null;
    const name = bytesAt(fd, head, offset, size);
    if (!name || name[size - 1] !== 0) return null;
    return { entry, interp: name.toString('latin1', 0, name.indexOf(0)) };
  }
  return { entry, interp: null };
}
