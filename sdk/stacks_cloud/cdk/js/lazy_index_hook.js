'use strict';
// Preloaded into the jsii kernel (node --require). Prebuilt CDKTF provider packages ship a
// lib/index.js that eagerly require()s every resource module (2,135 for @cdktf/provider-aws),
// which costs ~2 s per synth. When an index.js is nothing but re-exports, replace it with
// getters that require a module the first time the kernel asks for it. Anything else in the
// file (an unknown statement) makes us fall back to the original loader: never guess.
// The kernel ignores SIGINT and SIGTERM for the same reason as jsii_runtime.js: the Python process
// decides how to stop, and ends the kernel by closing its stdin.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

const Module = require('module');
const fs = require('fs');
const path = require('path');

const REEXPORT = /^exports\.([A-Za-z_$][\w$]*) = require\("(\.\/[^"]+)"\);$/;
const HARMLESS = [
  /^\s*$/,
  /^"use strict";$/,
  /^\s*(\/\*\*|\*|\*\/|\/\/)/,
  /^Object\.defineProperty\(exports, "__esModule", \{ value: true \}\);$/,
  /^(exports\.[\w$]+ = )+void 0;$/,
];
const PROVIDER_INDEX = new RegExp(
  `node_modules\\${path.sep}@cdktf\\${path.sep}provider-[^\\${path.sep}]+\\${path.sep}lib\\${path.sep}index\\.js$`,
);

function lazyReexports(source) {
  const pairs = [];
  for (const line of source.split('\n')) {
    const match = REEXPORT.exec(line);
    if (match) {
      pairs.push([match[1], match[2]]);
    } else if (!HARMLESS.some((re) => re.test(line))) {
      return null;
    }
  }
  return pairs.length > 0 ? pairs : null;
}

const originalJsLoader = Module._extensions['.js'];
Module._extensions['.js'] = function loadMaybeLazily(module, filename) {
  if (!PROVIDER_INDEX.test(filename)) {
    return originalJsLoader(module, filename);
  }
  const pairs = lazyReexports(fs.readFileSync(filename, 'utf8'));
  if (pairs === null) {
    return originalJsLoader(module, filename);
  }
  const target = module.exports;
  Object.defineProperty(target, '__esModule', { value: true });
  for (const [name, request] of pairs) {
    Object.defineProperty(target, name, {
      enumerable: true,
      configurable: true,
      get() {
        const value = module.require(request);
        Object.defineProperty(target, name, { value, enumerable: true, configurable: true, writable: true });
        return value;
      },
    });
  }
  if (process.env.STACKS_CLOUD_FASTLOAD_DEBUG) {
    process.stderr.write(`[fastload] ${filename}: ${pairs.length} lazy re-exports\n`);
  }
  return undefined;
};

// Every cdktf token records the Node stack at its creation (Error.stackTraceLimit = Infinity), to
// name it in an "unresolvable token" error. Under jsii that stack is the kernel's own frames, never
// the Python line that made the token, and capturing it costs about a tenth of the kernel's time.
// The traces say where to look instead; STACKS_CLOUD_TOKEN_STACK_TRACES=1 keeps cdktf's behaviour.
const STACK_TRACE_MODULE = new RegExp(
  `${['cdktf', 'lib', 'tokens', 'private', 'stack-trace\\.js'].join(`\\${path.sep}`)}$`,
);
const NO_TRACE = Object.freeze([
  '(stack trace not recorded: set STACKS_CLOUD_TOKEN_STACK_TRACES=1 to record the kernel stack)',
]);
if (!process.env.STACKS_CLOUD_TOKEN_STACK_TRACES) {
  const jsLoader = Module._extensions['.js'];
  Module._extensions['.js'] = function loadWithoutTokenTraces(module, filename) {
    const result = jsLoader(module, filename);
    if (STACK_TRACE_MODULE.test(filename) && typeof module.exports.captureStackTrace === 'function') {
      module.exports.captureStackTrace = () => [...NO_TRACE];
    }
    return result;
  };
}
