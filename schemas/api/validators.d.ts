// Types of the generated validators (bin/gen-api-validators).
import type { ErrorObject } from "ajv";

export interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}
export declare const auth: Validator;
export declare const commit: Validator;
export declare const composeWatch: Validator;
export declare const containerCreate: Validator;
export declare const execCreate: Validator;
export declare const execStart: Validator;
export declare const networkConnect: Validator;
export declare const networkCreate: Validator;
export declare const networkDisconnect: Validator;
export declare const volumeCreate: Validator;
