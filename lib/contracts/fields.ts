/** An object's fields, read by name (an interface has no index signature to read it by). */
export function fieldsOf(o: object): Readonly<Record<string, unknown>> {
	return o as Record<string, unknown>;
}
