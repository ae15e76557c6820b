// Reads the subset of Bazel's Starlark that gVisor's test BUILD files use:
// top-level rule calls with keyword arguments whose values are strings,
// numbers, booleans, lists, `+` concatenation and the select helpers. Enough
// to learn each target's sources and dependencies without Bazel.

const ARCH = 'amd64';

function tokenize(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      const triple = text.startsWith(c.repeat(3), i);
      const end = triple ? text.indexOf(c.repeat(3), i + 3) : findQuote(text, i + 1, c);
      const body = text.slice(i + (triple ? 3 : 1), end);
      tokens.push({ t: 'str', v: body.replace(/\\(.)/g, '$1') });
      i = end + (triple ? 3 : 1);
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z_0-9.]*/.exec(text.slice(i));
      tokens.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(text.slice(i));
      tokens.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else {
      tokens.push({ t: 'op', v: c });
      i++;
    }
  }
  return tokens;
}

function findQuote(text, from, q) {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === q) return i;
  }
  throw new Error('unterminated string');
}

// Helpers gVisor's macros expand to; the values are what a Linux amd64 build
// with the open-source toolchain gets.
const FUNCTIONS = {
  select_gtest: () => [],
  select_system: (kw) => kw.linux ?? ['__linux__'],
  select_arch: (kw) => kw[ARCH] ?? kw.default ?? [],
  coreutil: () => [],
  default_net_util: () => [],
  select: (kw, args) => args[0]?.['//conditions:default'] ?? [],
};

class Parser {
  constructor(tokens) {
    this.toks = tokens;
    this.pos = 0;
  }
  peek(v) {
    const t = this.toks[this.pos];
    return t && (v === undefined || t.v === v) ? t : undefined;
  }
  next() {
    return this.toks[this.pos++];
  }
  expect(v) {
    const t = this.next();
    if (!t || t.v !== v) throw new Error(`expected ${v}, got ${t?.v}`);
    return t;
  }
  expr() {
    let value = this.atom();
    while (this.peek('+')) {
      this.next();
      const rhs = this.atom();
      value = Array.isArray(value) ? value.concat(rhs) : value + rhs;
    }
    return value;
  }
  atom() {
    const t = this.next();
    if (t.t === 'str' || t.t === 'num') {
      // Adjacent string literals concatenate.
      let v = t.v;
      while (t.t === 'str' && this.peek()?.t === 'str') v += this.next().v;
      return v;
    }
    if (t.v === '[') return this.list(']');
    if (t.v === '(') {
      const items = this.list(')');
      return items.length === 1 ? items[0] : items;
    }
    if (t.v === '{') return this.dict();
    if (t.t === 'id') {
      if (t.v === 'True') return true;
      if (t.v === 'False') return false;
      if (t.v === 'None') return null;
      if (this.peek('(')) {
        this.next();
        const { args, kwargs } = this.callArgs();
        const fn = FUNCTIONS[t.v];
        return fn ? fn(kwargs, args) : { call: t.v, args, kwargs };
      }
      return { ref: t.v };
    }
    throw new Error(`unexpected token ${t.v}`);
  }
  list(close) {
    const items = [];
    while (!this.peek(close)) {
      items.push(this.expr());
      if (this.peek(',')) this.next();
    }
    this.expect(close);
    return items;
  }
  dict() {
    const out = {};
    while (!this.peek('}')) {
      const key = this.expr();
      this.expect(':');
      out[key] = this.expr();
      if (this.peek(',')) this.next();
    }
    this.expect('}');
    return out;
  }
  callArgs() {
    const args = [];
    const kwargs = {};
    while (!this.peek(')')) {
      const t = this.peek();
      if (t.t === 'id' && this.toks[this.pos + 1]?.v === '=') {
        this.pos += 2;
        kwargs[t.v] = this.expr();
      } else {
        args.push(this.expr());
      }
      if (this.peek(',')) this.next();
    }
    this.expect(')');
    return { args, kwargs };
  }
}

/** Every top-level rule call of a BUILD file: [{ rule, ...kwargs }]. */
export function parseBuild(text) {
  const p = new Parser(tokenize(text));
  const rules = [];
  while (p.peek()) {
    const value = p.expr();
    if (value && typeof value === 'object' && 'call' in value) {
      rules.push({ rule: value.call, ...value.kwargs });
    }
  }
  return rules;
}
