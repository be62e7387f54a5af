// Checks Kubernetes objects against the API's schemas (types, enums, required
// fields), as the API server would before accepting them.
//   node validate_objects.mjs NODE_MODULES OBJECTS.json
// NODE_MODULES: .tools/schema/node_modules (tests/deploy/schema/package.json).
// OBJECTS.json: a JSON list of objects. Prints one line per problem and exits
// 1 when there is any; an object whose kind has no schema here is a problem.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, objectsFile] = process.argv.slice(2);
if (!modules || !objectsFile) {
  console.error("usage: validate_objects.mjs NODE_MODULES OBJECTS.json");
  process.exit(2);
}

// Where each API group's models are.
function modulePath(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com")
    return join(modules, "@kubernetes-models/prometheus-operator", group, version, "index.js");
  return join(modules, "kubernetes-models", group, version, "index.js");
}

const problems = [];
for (const object of JSON.parse(readFileSync(objectsFile, "utf8"))) {
  const name = `${object.kind} ${object.metadata?.name}`;
  let models;
  try {
    models = await import(pathToFileURL(modulePath(object.apiVersion)).href);
  } catch {
    problems.push(`${name}: no schema for ${object.apiVersion}`);
    continue;
  }
  const Model = models[object.kind];
  if (!Model) {
    problems.push(`${name}: no schema for ${object.apiVersion} ${object.kind}`);
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    problems.push(`${name}: ${error.message.replace(/\n/g, "; ")}`);
  }
}
for (const problem of problems) console.log(problem);
process.exit(problems.length ? 1 : 0);
