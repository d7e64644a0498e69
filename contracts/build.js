// Compiles src/*.sol with solcjs (wasm, offline) against @openzeppelin/contracts and writes
// out/<Contract>.json as {abi, bytecode}, the form alloy's `sol!` macro reads.
// Run: npm ci && npm run build   (the outputs are committed; CI does not rebuild them)
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const src = path.join(__dirname, "src");
const out = path.join(__dirname, "out");
const sources = {};
for (const file of fs.readdirSync(src).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(src, file), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
function findImports(p) {
  const file = path.join(__dirname, "node_modules", p);
  return fs.existsSync(file) ? { contents: fs.readFileSync(file, "utf8") } : { error: `not found: ${p}` };
}
const result = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (result.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
fs.mkdirSync(out, { recursive: true });
for (const file of Object.keys(sources)) {
  const name = path.basename(file, ".sol");
  const c = result.contracts[file][name];
  const json = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
  fs.writeFileSync(path.join(out, `${name}.json`), JSON.stringify(json, null, 2) + "\n");
  console.log(`${name}: ${c.evm.bytecode.object.length / 2} bytes of init code`);
}
console.log(`solc ${solc.version()}`);
