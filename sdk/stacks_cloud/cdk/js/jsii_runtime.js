'use strict';
// Entry point handed to jsii as JSII_RUNTIME: preload the lazy-index hook into the kernel
// process (the real runtime forks its kernel with process.env), then run the real runtime.
const path = require('path');

const hook = path.join(__dirname, 'lazy_index_hook.js');
const realRuntime = process.env.STACKS_CLOUD_REAL_JSII_RUNTIME;
if (!realRuntime) {
  throw new Error('STACKS_CLOUD_REAL_JSII_RUNTIME is not set: start the kernel through cdk._fastload');
}
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS || ''} --require ${JSON.stringify(hook)}`.trim();
require(realRuntime);
// Ctrl-C in a terminal (and a CI runner's SIGTERM to the job) signals the whole process group. The
// real runtime would kill its kernel, and the Python process (which decides how to stop) would then
// meet a broken pipe in its next jsii call. Python ends the kernel by closing its stdin when it exits.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.removeAllListeners(signal);
  process.on(signal, () => {});
}
