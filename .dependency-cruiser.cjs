// The layers of Berth, as rules `npm test` holds (scripts/check-imports.sh runs dependency-cruiser
// with this file). A wrong-way import fails the run with the rule's name. The picture is in
// ../shared/DESIGN.md and the README's layout section:
//
//   runtime-agent/src:  cli/, vm/, engine.ts        front ends and the composition root
//                       api/                        HTTP: routes only translate
//                       builder/ containers/ networks/ volumes/ images/   services
//                       registry/ snapshots/ oci/ cgroups/ events/ system/ state/ vocabulary/ util/   core
//   renderer/ sees only electron/src/common/; runtime-agent sees neither electron/ nor renderer/.

const SRC = '^runtime-agent/src/';
const SERVICES = `${SRC}(builder|containers|networks|volumes|images)/`;
const CORE = `${SRC}(registry|snapshots|oci|cgroups|events|system|state|vocabulary|util)/`;
const FRONT = `${SRC}(cli|vm|api)/|${SRC}engine\\.ts$`;
/** Type-only imports of the composition root tell a route what it is handed, nothing more. */
const RUNTIME_IMPORT = { dependencyTypesNot: ['type-only'] };

/** `from` may not import `to`: one rule, named, with why. */
const forbid = (name, comment, from, to, extra = {}) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to, ...extra } });

/** Services, in the order they may import one another: each only those after it. */
const SERVICE_ORDER = ['builder', 'containers', 'networks', 'volumes', 'images'];
const serviceRules = SERVICE_ORDER.map((service, i) => {
  const above = SERVICE_ORDER.slice(0, i);
  return above.length
    ? forbid(`service-${service}-imports-only-below`, `${service}/ may import ${SERVICE_ORDER.slice(i + 1).join(', ') || 'no other service'}, never ${above.join(', ')}: services form no loops`, `${SRC}${service}/`, `${SRC}(${above.join('|')})/`)
    : undefined;
}).filter(Boolean);

module.exports = {
  forbidden: [
    forbid('service-imports-api', 'services know nothing of HTTP: api/ calls them, not the other way', SERVICES, `${SRC}(api|cli|vm)/`),
    forbid('service-imports-composition-root', 'services get their dependencies at construction, not by reaching for the Engine', SERVICES, `${SRC}engine\\.ts$`),
    forbid('core-imports-service', 'core (registry, snapshots, oci, cgroups, events, system, state, vocabulary, util) knows no service', CORE, `${SERVICES}|${FRONT}`),
    forbid('api-imports-composition-root-at-run-time', 'routes are handed the engine; they import its type only', `${SRC}api/`, `${SRC}engine\\.ts$`, RUNTIME_IMPORT),
    forbid('api-imports-front-end', 'api/ is below cli/ and vm/', `${SRC}api/`, `${SRC}(cli|vm)/`),
    forbid('vocabulary-imports-above-util', 'the vocabulary is the ground floor: it may use util/ only', `${SRC}vocabulary/`, `${SRC}(?!vocabulary/|util/)`),
    forbid('util-imports-project', 'util/ is the bottom: it imports nothing of the engine', `${SRC}util/`, `${SRC}(?!util/)`),
    ...serviceRules,
    forbid('runtime-agent-imports-host-or-gui', 'berthd runs in the guest: it never imports the host side or the GUI', '^runtime-agent/', '^(electron|renderer)/'),
    forbid('renderer-imports-beyond-common', 'the renderer sees the host only through the typed host API and shared types in electron/src/common', '^renderer/', '^(electron/src/(?!common/)|runtime-agent/|vm-image/)'),
    forbid('common-imports-host', 'electron/src/common is shared with the renderer: no Node or Electron code', '^electron/src/common/', '^(electron/src/(?!common/)|runtime-agent/src/(?!vm/guest-contract))'),
    forbid('host-imports-electron-main', 'the host side is plain Node: the Electron shell uses it, not the other way', '^electron/src/node/', '^electron/src/electron-main/'),
    {
      name: 'no-circular',
      comment: 'modules import in one direction; a loop means two of them are one thing, or a third is missing',
      severity: 'error',
      from: { pathNot: '\\.test\\.ts$' },
      to: { circular: true, ...RUNTIME_IMPORT },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.cts', '.mts', '.js'] },
  },
};
