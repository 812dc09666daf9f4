#!/usr/bin/env node
// Compiles the Solidity sources in this folder with the solc version pinned in package.json
// (solc-js from npm, no native solc needed) and writes each contract's runtime bytecode to
// `<Contract>.bin-runtime` (hex, no 0x, newline-terminated).
//
//   node contracts/build.js           compile and write the .bin-runtime files
//   node contracts/build.js --print   print `<Contract> <hex>` lines instead of writing
//
// Settings are fixed (optimizer on, 200 runs, EVM prague, no metadata hash) so that the same
// source always gives the same bytes; the Rust test `contracts_match_their_source` recompiles and
// compares with the committed files and with the devnet genesis.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const DIR = __dirname;
/** Contracts whose runtime bytecode is committed, by source file. */
const TARGETS = { "L2ToL1MessagePasser.sol": ["L2ToL1MessagePasser"] };

const sources = {};
for (const file of Object.keys(TARGETS)) {
  sources[file] = { content: fs.readFileSync(path.join(DIR, file), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "prague",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) {
  process.stderr.write(e.formattedMessage + "\n");
}
if (errors.length > 0) {
  process.exit(1);
}
const print = process.argv.includes("--print");
for (const [file, names] of Object.entries(TARGETS)) {
  for (const name of names) {
    const hex = output.contracts[file][name].evm.deployedBytecode.object;
    if (print) {
      process.stdout.write(`${name} ${hex}\n`);
    } else {
      fs.writeFileSync(path.join(DIR, `${name}.bin-runtime`), hex + "\n");
      process.stderr.write(`wrote ${name}.bin-runtime (${hex.length / 2} bytes, solc ${solc.version()})\n`);
    }
  }
}
