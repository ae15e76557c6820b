// The shim's protobuf messages (src/shim/shim.proto), loaded once with
// protobufjs, and the two helpers every message needs: timestamps and Any.
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { PROJECT_ROOT } from '../paths.js';

const root = protobuf.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'src/shim/shim.proto'), 'utf8'), { keepCase: true }).root;

/** A message type of shim.proto by its short name. */
export function messageType(name: string): protobuf.Type {
  return root.lookupType(`tsvisor.shim.${name}`);
}

/** Encodes `value` (plain object, .proto field names) as message `name`. */
export function encode(name: string, value: object): Uint8Array {
  const t = messageType(name);
  return t.encode(t.fromObject(value)).finish();
}

/** Decodes message `name`: a plain object with every field (defaults filled, 64-bit numbers as numbers). */
export function decode<T>(name: string, bytes: Uint8Array): T {
  const t = messageType(name);
  return t.toObject(t.decode(bytes), { longs: Number, enums: Number, bytes: Buffer, defaults: true, arrays: true }) as T;
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export function timestamp(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

export interface Any {
  type_url: string;
  value: Buffer;
}
