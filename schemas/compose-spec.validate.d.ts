// Types of the generated validator (bin/gen-compose-validator).
export declare function validate(data: unknown): boolean;
export default validate;
