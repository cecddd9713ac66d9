/** Shared by the train and SVG tests: a strict little XML parser and SVG coordinate checks. */
import { expect } from 'vitest';

export interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

/**
 * A deliberately strict little XML parser: one prolog, elements with quoted attributes,
 * self-closing tags, text with the five predefined entities only. Throws on anything
 * unbalanced or malformed, so passing it means the file is well-formed XML.
 */
export function parseXml(src: string): Element {
  let pos = 0;
  const fail = (msg: string): never => {
    throw new Error(`${msg} at ${pos}: ${JSON.stringify(src.slice(pos, pos + 40))}`);
  };
  const prolog = /^<\?xml [^?]*\?>\s*/.exec(src);
  if (!prolog) fail('missing XML declaration');
  pos = prolog![0].length;
  const NAME = /[A-Za-z_][\w.:-]*/y;
  const readName = () => {
    NAME.lastIndex = pos;
    const m = NAME.exec(src);
    if (!m) fail('expected a name');
    pos += m![0].length;
    return m![0];
  };
  const checkText = (t: string) => {
    const bad = /&(?!(amp|lt|gt|quot|apos);)|</.exec(t);
    if (bad) fail(`bad character data ${JSON.stringify(bad[0])}`);
    return t.replace(/&(amp|lt|gt|quot|apos);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e as string]!);
  };
  const element = (): Element => {
    if (src[pos] !== '<') fail('expected <');
    pos++;
    const name = readName();
    const attrs: Record<string, string> = {};
    for (;;) {
      const ws = /\s*/y;
      ws.lastIndex = pos;
      pos += ws.exec(src)![0].length;
      if (src.startsWith('/>', pos)) {
        pos += 2;
        return { name, attrs, children: [], text: '' };
      }
      if (src[pos] === '>') {
        pos++;
        break;
      }
      const an = readName();
      if (src[pos] !== '=' || src[pos + 1] !== '"') fail('expected ="');
      const end = src.indexOf('"', pos + 2);
      if (end < 0) fail('unterminated attribute');
      if (an in attrs) fail(`duplicate attribute ${an}`);
      attrs[an] = checkText(src.slice(pos + 2, end));
      pos = end + 1;
    }
    const children: Element[] = [];
    let text = '';
    for (;;) {
      if (src.startsWith('</', pos)) {
        pos += 2;
        const close = readName();
        if (close !== name) fail(`</${close}> closes <${name}>`);
        if (src[pos] !== '>') fail('expected >');
        pos++;
        return { name, attrs, children, text };
      }
      if (src[pos] === '<') {
        children.push(element());
        continue;
      }
      const next = src.indexOf('<', pos);
      if (next < 0) fail(`unclosed <${name}>`);
      text += checkText(src.slice(pos, next));
      pos = next;
    }
  };
  const root = element();
  if (src.slice(pos).trim() !== '') fail('content after the root element');
  return root;
}

export function all(e: Element, name: string, out: Element[] = []): Element[] {
  if (e.name === name) out.push(e);
  for (const c of e.children) all(c, name, out);
  return out;
}

/** Every number in every coordinate-bearing attribute must be finite. */
export function expectFiniteCoordinates(svg: string, root: Element): void {
  expect(svg).not.toMatch(/NaN|Infinity/);
  const numeric = ['x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'r', 'width', 'height'];
  const walk = (e: Element) => {
    for (const a of numeric) if (a in e.attrs) expect(Number.isFinite(Number(e.attrs[a])), `${e.name} ${a}=${e.attrs[a]}`).toBe(true);
    if (e.attrs.points !== undefined) {
      for (const pair of e.attrs.points.trim().split(/\s+/)) {
        const xy = pair.split(',').map(Number);
        expect(xy).toHaveLength(2);
        expect(xy.every(Number.isFinite), pair).toBe(true);
      }
    }
    e.children.forEach(walk);
  };
  walk(root);
}
