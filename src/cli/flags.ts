// Command-line flags as runsc (Go's flag package) and runc accept them:
// "--flag value", "--flag=value", "-flag value", booleans as "--flag",
// "--flag=true|false" or "--no-flag". Flags stop at "--" or, when asked, at
// the first positional argument. Unknown flags are errors that name the flag.

export interface FlagSpec {
  name: string;
  type: 'bool' | 'string' | 'list';
  help: string;
  alias?: string[];
  /** value names allowed for a string flag */
  choices?: readonly string[];
}

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export class UsageError extends Error {}

export interface Parsed {
  flags: FlagValues;
  rest: string[];
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[], stopAtPositional: boolean): Parsed {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    for (const a of s.alias ?? []) byName.set(a, s);
  }
  const flags: FlagValues = {};
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (stopAtPositional) break;
      rest.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    let name = eq < 0 ? body : body.slice(0, eq);
    let inline: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-')) {
      const pos = byName.get(name.slice(3));
      if (pos?.type === 'bool' && inline === undefined) {
        spec = pos;
        name = pos.name;
        inline = 'false';
      }
    }
    if (!spec) throw new UsageError(`unknown flag: ${arg.split('=')[0]}`);
    if (spec.type === 'bool') {
      if (inline !== undefined && !['true', 'false', '1', '0'].includes(inline)) {
        throw new UsageError(`flag --${spec.name} takes true or false, not "${inline}"`);
      }
      flags[spec.name] = inline === undefined ? true : inline === 'true' || inline === '1';
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag --${spec.name} needs a value`);
      value = argv[++i]!;
    }
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(`flag --${spec.name}: "${value}" is not one of ${spec.choices.join(', ')}`);
    }
    if (spec.type === 'list') flags[spec.name] = [...((flags[spec.name] as string[] | undefined) ?? []), value];
    else flags[spec.name] = value;
  }
  rest.push(...argv.slice(i));
  return { flags, rest };
}

export function usage(specs: readonly FlagSpec[]): string {
  return specs
    .map((s) => {
      const v = s.type === 'bool' ? '' : s.choices ? ` ${s.choices.join('|')}` : ' VALUE';
      return `  --${s.name}${v}\n        ${s.help}`;
    })
    .join('\n');
}
