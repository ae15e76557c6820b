// Command-line flags as runsc (Go's flag package) and runc accept them:
// "--flag value", "--flag=value", "-flag value", booleans as "--flag",
// "--flag=true|false" or "--no-flag". Flags stop at "--" or, when asked, at
// the first positional argument. Unknown flags are errors that name the flag;
// --help and -h, where they are flags, ask for the flags' help.

export interface FlagSpec {
  name: string;
  type: 'bool' | 'string' | 'list';
  help: string;
  alias?: string[];
  /** value names allowed for a string flag */
  choices?: readonly string[];
}

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** A mistake in the command line: a one-line message, exit status 2. `flag`: the unknown flag it names. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message);
  }
}

/** The command line asked for help (--help, -h): `specs` are the flags of what it asked about. */
export class HelpRequested extends Error {
  constructor(readonly specs: readonly FlagSpec[]) {
    super('help');
  }
}

/** Positional arguments that do not fit the command: main adds its usage line. */
export function wrongArguments(): UsageError {
  return new UsageError('wrong number of arguments');
}

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
    if (!spec && (name === 'help' || name === 'h') && inline === undefined) throw new HelpRequested(specs);
    if (!spec) throw new UsageError(`unknown flag: ${arg.split('=')[0]}`, name);
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
