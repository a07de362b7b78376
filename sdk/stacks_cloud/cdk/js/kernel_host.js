'use strict';
// Starts the jsii kernel (the runtime's lib/program.js) on a socket to Python, instead of jsii's own host.
//
// jsii's host process relays every message: Python -> its stdin -> the kernel's fd 3, and back the same
// way, two extra hops (and two process wake-ups) per call. Here Python hands this process a socket as
// its stdin, and the kernel gets that same socket as its fd 3, where it reads requests and writes
// answers: Python and the kernel talk directly. What the real host does besides is kept: the kernel's
// own stdout and stderr come out as `{"stdout"|"stderr": base64}` lines on this process's stderr (jsii's
// Python side decodes them), the lazy-index hook is preloaded into the kernel, and this process ends
// with the kernel's exit code once its output is flushed. SIGINT and SIGTERM are ignored here and in
// the kernel, as in jsii_runtime.js: the Python process decides how to stop.
const { spawn } = require('child_process');
const { finished } = require('stream');
const os = require('os');
const path = require('path');

const realRuntime = process.env.STACKS_CLOUD_REAL_JSII_RUNTIME;
if (!realRuntime) {
  throw new Error('STACKS_CLOUD_REAL_JSII_RUNTIME is not set: start the kernel through cdk._fastload');
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {});
}
const program = path.resolve(path.dirname(realRuntime), '..', 'lib', 'program.js');
const hook = path.join(__dirname, 'lazy_index_hook.js');
const kernel = spawn(process.execPath, [...process.execArgv, '--preserve-symlinks', '--require', hook, program], {
  stdio: ['ignore', 'pipe', 'pipe', 0], // fd 3 of the kernel: our stdin, the socket to Python
});
for (const name of ['stdout', 'stderr']) {
  kernel[name].on('data', (chunk) => {
    process.stderr.write(`${JSON.stringify({ [name]: Buffer.from(chunk).toString('base64') })}\n`);
  });
}
kernel.once('error', (error) => {
  console.error('Failed to spawn the jsii kernel:', error.stack);
  process.exit(1);
});
kernel.once('exit', (code, signal) => {
  const status = signal ? 128 + (os.constants.signals[signal] || 0) : (code ?? 0);
  const ended = [kernel.stdout, kernel.stderr].map(
    (stream) => new Promise((resolve) => finished(stream, { writable: false }, () => resolve())),
  );
  Promise.all(ended).then(() => process.stderr.write('', () => process.exit(status)));
});
