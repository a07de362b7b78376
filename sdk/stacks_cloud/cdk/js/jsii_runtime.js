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
