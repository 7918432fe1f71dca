/**
 * Readable names for generated wire types that have no name of their own in
 * the schema. Every wire type is generated in `./wire.ts` from the pydantic
 * models (`npm run contract`); nothing here copies a field.
 */
import type * as wire from './wire';

/** One operation of `PATCH context` (its `op` tells which). */
export type PatchOperation = wire.IContextPatch['operations'][number];
