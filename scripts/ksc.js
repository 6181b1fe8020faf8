// Compile a .ksy (given as JSON on stdin) with the kaitai-struct-compiler npm package.
// Usage: node ksc.js COMPILER_JS OUT_DIR LANG...   (writes OUT_DIR/LANG/<files>)
"use strict";
const fs = require("fs");
const path = require("path");
const [compilerPath, outDir, ...languages] = process.argv.slice(2);
const compiler = require(path.resolve(compilerPath));
const ksy = JSON.parse(fs.readFileSync(0, "utf8"));
(async () => {
  for (const language of languages) {
    const files = await compiler.compile(language, ksy, null, false);
    const dir = path.join(outDir, language);
    for (const [name, text] of Object.entries(files)) {
      const target = path.join(dir, name);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, text);
      console.log(target);
    }
  }
})().catch((error) => {
  console.error("kaitai-struct-compiler: " + (error && error.stack ? error.stack : error));
  process.exit(1);
});
