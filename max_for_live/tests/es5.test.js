'use strict';
// loopwatch.js must run unchanged in Max's [js] (SpiderMonkey 1.8.5, ES5) and
// in [v8]. Node runs ES2023, so this test rejects ES2015+ syntax and library
// calls on the token level (comments and string literals removed first).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const vm = require('vm');
const { SCRIPT_PATH } = require('./harness.js');

const source = fs.readFileSync(SCRIPT_PATH, 'utf8');

/** The source with comments and string literals blanked out (no regex literals are used). */
function codeOnly(src) {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      assert.ok(end > 0, 'unterminated comment');
      out += src.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (src[j] !== c) {
        assert.ok(src[j] !== '\n' && j < src.length, `unterminated string at ${i}`);
        j += src[j] === '\\' ? 2 : 1;
      }
      out += c + ' '.repeat(j - i - 1) + c;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

test('loopwatch.js is plain ASCII with LF line endings', () => {
  assert.ok(/^[\x09\x0a\x20-\x7e]*$/.test(source), 'non-ASCII or control characters');
});

test('loopwatch.js uses no ES2015+ syntax', () => {
  const code = codeOnly(source);
  const forbidden = [
    [/`/, 'template literal'],
    [/=>/, 'arrow function'],
    [/\.\.\./, 'spread/rest'],
    [/\b(let|const|class|yield|async|await|of)\b/, 'ES2015+ keyword'],
    [/\bfunction\s*\*/, 'generator'],
    [/\bfor\s*\([^)]*\bin\b[^)]*\)\s*;/, 'empty for-in'],
    [/[=(,:!&|?]\s*\/[^/*]/, 'regex literal (use split/join)'],
  ];
  for (const [re, what] of forbidden) {
    const m = code.match(re);
    assert.equal(m, null, `${what}: ...${m ? code.slice(Math.max(0, m.index - 40), m.index + 40) : ''}...`);
  }
});

test('loopwatch.js calls no ES2015+ library functions', () => {
  const code = codeOnly(source);
  const calls = ['startsWith', 'endsWith', 'includes', 'repeat', 'padStart', 'padEnd', 'find', 'findIndex',
    'fill', 'assign', 'entries', 'values', 'from', 'of', 'trimStart', 'trimEnd', 'flat', 'flatMap'];
  for (const name of calls) {
    assert.ok(!new RegExp(`\\.${name}\\s*\\(`).test(code), `.${name}() is not ES5`);
  }
  for (const global of ['Map', 'Set', 'WeakMap', 'Symbol', 'Promise', 'Proxy', 'Reflect']) {
    assert.ok(!new RegExp(`\\b${global}\\b`).test(code), `${global} is not ES5`);
  }
  // the one ES2015 call, String.prototype.normalize, is feature-tested
  assert.ok(/typeof s\.normalize === "function"/.test(source));
});

test('loopwatch.js parses as a sloppy-mode script and never touches LiveAPI in global code', () => {
  assert.doesNotThrow(() => new vm.Script(source, { filename: 'loopwatch.js' }));
  const ctx = {
    jsarguments: [], post() {}, outlet() { throw new Error('outlet in global code'); },
    setinletassist() {}, setoutletassist() {},
    LiveAPI() { throw new Error('LiveAPI in global code'); },
    Task() { throw new Error('Task in global code'); },
  };
  vm.createContext(ctx);
  vm.runInContext(source, ctx);
  assert.equal(ctx.inlets, 1);
  assert.equal(ctx.outlets, 7);
});
