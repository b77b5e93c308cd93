// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * Orchestrators replay from history, so they must be deterministic. These rules make the build
 * fail when an orchestration imports anything with side effects or reads clocks, randomness,
 * timers or the environment. Use context.df.currentUtcDateTime, context.df.newGuid and
 * context.df.createTimer instead.
 */
const deterministicRules = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        { group: ['node:*'], message: 'Orchestrations are replayed: no Node built-ins.' },
        {
          group: ['@azure/*', '!@azure/functions'],
          message: 'Orchestrations never call Azure SDKs; call an activity.',
        },
        {
          group: [
            '../functions/*',
            '../shared/azure/*',
            '../shared/storage/*',
            '../shared/telegram/*',
            '../sandbox/*',
          ],
          message: 'Orchestrations import activity names and types only.',
        },
      ],
      paths: [
        'fs',
        'fs/promises',
        'path',
        'os',
        'crypto',
        'http',
        'https',
        'net',
        'child_process',
        'timers',
        'timers/promises',
        'process',
        'worker_threads',
        'dns',
        'axios',
        'undici',
      ].map((name) => ({ name, message: 'Orchestrations are replayed: no I/O, clocks or randomness.' })),
    },
  ],
  'no-restricted-globals': [
    'error',
    ...[
      'fetch',
      'setTimeout',
      'setInterval',
      'setImmediate',
      'queueMicrotask',
      'process',
      'crypto',
      'performance',
      'XMLHttpRequest',
      'WebSocket',
    ].map((name) => ({
      name,
      message: `Orchestrations are replayed: ${name} is not deterministic. Use context.df.* or an activity.`,
    })),
  ],
  'no-restricted-syntax': [
    'error',
    {
      selector: "NewExpression[callee.name='Date']",
      message: 'Use context.df.currentUtcDateTime, not new Date().',
    },
    {
      selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
      message: 'Use context.df.currentUtcDateTime, not Date.now().',
    },
    {
      selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
      message: 'Use context.df.newGuid, not Math.random().',
    },
    {
      selector: "MemberExpression[object.name='process']",
      message: 'Orchestrations never read process.*; pass values in the input.',
    },
  ],
};

/**
 * shared/ by layer. The lifecycle operations (provisioning, rotation, sas, teardown, upgrades) build on the
 * footprint's vocabulary (shared/domain), the operation kit (shared/operations), what maintenance
 * shares (shared/maintenance) and the adapters; they never import one another, so each can change
 * (or a new one be added) without the others. The adapters (azure, storage, telegram, openclaw,
 * registries) talk to one outside system each and know nothing of the operations that use them.
 */
const LIFECYCLE = ['provisioning', 'rotation', 'sas', 'teardown', 'upgrades'];
const ADAPTERS = ['azure', 'storage', 'telegram', 'openclaw', 'registries'];
const ABOVE_ADAPTERS = [
  ...LIFECYCLE,
  'maintenance',
  'operations',
  'approvals',
  'intake',
  'sweeps',
  'housekeeping',
];

const lifecycleLayers = LIFECYCLE.map((folder) => ({
  files: [`shared/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            // From the folder itself and from one folder down (shared/<folder>/steps/).
            group: LIFECYCLE.filter((other) => other !== folder).flatMap((other) => [
              `../${other}/*`,
              `../../${other}/*`,
            ]),
            message: `shared/${folder} is a lifecycle operation: lifecycle folders do not import one another. Move what they share to shared/domain, shared/operations or shared/maintenance.`,
          },
        ],
      },
    ],
  },
}));

const adapterLayers = {
  files: ADAPTERS.map((folder) => `shared/${folder}/**/*.ts`),
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: ABOVE_ADAPTERS.flatMap((folder) => [`../${folder}/*`, `../../${folder}/*`]),
            message:
              'Adapters do not import lifecycle code: pass what they need in, or move it to shared/domain.',
          },
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', '.sandbox/', '.cache/', 'schemas/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  { files: ['orchestrations/**/*.ts'], rules: deterministicRules },
  ...lifecycleLayers,
  adapterLayers,
  {
    files: ['test/**/*.ts', 'sandbox/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  prettier,
);
