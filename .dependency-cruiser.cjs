// The directions of dependency that keep imgd's layers apart (README.md, "Architecture"):
// http → domain → db/store/codecs. Run with `npm run check:deps`.
//
// Errors are imports that run. Type-only imports are warnings: a route naming a row type of
// src/db is coupled to the schema, but reaches no data; the domain should export the entity
// types routes need. A cycle made only of type imports is a warning for the same reason.
// dependency-cruiser sees imports, not values handed over at run time: a route given `db` in a
// services object is caught by the SQL grep of the test run, not here.

const runtime = { dependencyTypesNot: ["type-only"] };
const typeOnly = { dependencyTypes: ["type-only"] };

/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "http-cli-not-to-db",
      comment:
        "Routes and CLI commands reach data only through domain use cases: never src/db (SQL, connection, schema).",
      severity: "error",
      from: { path: "^src/(http|cli)/" },
      to: { path: "^src/db/", ...runtime },
    },
    {
      name: "http-cli-not-to-db-types",
      comment: "Routes and CLI commands should name the domain's entity types, not src/db's row types.",
      severity: "warn",
      from: { path: "^src/(http|cli)/" },
      to: { path: "^src/db/", ...typeOnly },
    },
    {
      name: "domain-not-to-http",
      comment: "The domain knows nothing of HTTP: dialects map its errors and shapes, not the other way round.",
      severity: "error",
      from: { path: "^src/domain/" },
      to: { path: "^src/http/" },
    },
    {
      name: "codecs-not-to-src",
      comment: "The codec core (wasm, workers, the pipeline) imports nothing from the server.",
      severity: "error",
      from: { path: "^codecs/" },
      to: { path: "^src/" },
    },
    {
      name: "no-circular",
      comment: "No module depends on itself through others: cycles hide the direction of a layer.",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: runtime },
    },
    {
      name: "no-circular-types",
      comment: "A cycle through type imports only: harmless at run time, still a knot in the layers.",
      severity: "warn",
      from: {},
      to: { circular: true },
    },
    {
      name: "config-not-to-domain",
      comment:
        "src/config.ts is one schema of settings and imports nothing from the domain (issue 11: the config ↔ domain cycle).",
      severity: "warn",
      from: { path: "^src/config\\.ts$" },
      to: { path: "^src/domain/" },
    },
    {
      name: "root-not-to-http",
      comment:
        "The composition root builds services; HTTP is built on them, not inside them (issue 11: services.ts imports http/).",
      severity: "warn",
      from: { path: "^src/services\\.ts$" },
      to: { path: "^src/http/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Generated modules (*.gen.ts: the client's types, the font atlas, the web bundles) import
    // nothing and are no part of the structure.
    exclude: { path: ["node_modules", "\\.d\\.ts$", "\\.gen\\.ts$"] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
