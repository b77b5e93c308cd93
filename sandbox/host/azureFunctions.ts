/**
 * The runtime classes of `@azure/functions`. Under native Node ESM (tsx, the sandbox, Azure itself)
 * `import { InvocationContext, HttpRequest, HttpResponse } from '@azure/functions'` fails: the
 * package is a webpack bundle and Node's CommonJS export detection misses these classes (only vitest's
 * interop hides that). Loading the module with require gives the same instance the app uses.
 */
import { createRequire } from 'node:module';
import type * as AzureFunctions from '@azure/functions';

const require = createRequire(import.meta.url);
const azureFunctions = require('@azure/functions') as typeof AzureFunctions;

export const InvocationContext = azureFunctions.InvocationContext;
export const HttpRequest = azureFunctions.HttpRequest;
export const HttpResponse = azureFunctions.HttpResponse;
