import type { ActionCacheOptions, ActionParams, ActionSchema, CallingOptions, Context, LoggerInstance, Middleware, Service, ServiceBroker, ServiceSchema } from "moleculer";

/** The part of Moleculer's Service that every service's `this` has. */
export interface ServiceBase<S> {
	name: string;
	fullName: string;
	broker: ServiceBroker;
	logger: LoggerInstance;
	settings: S;
	/** The service's final schema, its mixins merged. */
	schema: ServiceSchema;
}

declare const membersOf: unique symbol;
declare const stateOf: unique symbol;

/** A mixin that carries, as a type, what it adds to the `this` of the services that mix it in. */
export type Mixin<M = unknown> = Partial<ServiceSchema> & { readonly [membersOf]?: M };

/** Type only: the fields a service (or mixin) keeps on `this`, set in its lifecycle hooks. */
export interface State<T> {
	readonly [stateOf]?: T;
}

/** Declares the fields a schema keeps on `this` (`state: state<{ timer?: NodeJS.Timeout }>()`); nothing at run time. */
export function state<T>(): State<T> {
	return {};
}

type MembersOf<X> = X extends { readonly [membersOf]?: infer M } ? (unknown extends M ? object : M) : object;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** What the mixins add to `this` (a mixin not made by defineMixin adds nothing the compiler knows of). */
export type MixinMembers<Mx extends readonly unknown[]> = Intersection<{ [K in keyof Mx]: MembersOf<Mx[K]> }[number]>;

/** `this` inside a schema: Moleculer's service, the mixins' members, the schema's own settings, methods and state. */
export type This<S, M, St, Mx extends readonly unknown[]> = ServiceBase<S> & MixinMembers<Mx> & M & St;

/** A handler's context, whatever its params: each handler names its own (`ctx: Ctx<{ id: string }>`). */
type AnyCtx = Context<never, never>;

/** An action as this project writes them: Moleculer's options, one handler whose `this` is the service's. */
export type ActionDef = Pick<ActionSchema, "rest" | "visibility" | "tracing" | "bulkhead" | "circuitBreaker" | "retryPolicy" | "fallback" | "hooks"> & {
	/** `near`: gateways keep the answer too, checked against the service's version (middlewares/near-cache.ts). */
	cache?: boolean | (ActionCacheOptions & { near?: boolean });
	params?: ActionParams;
	timeout?: number;
	handler(ctx: AnyCtx): unknown;
};

export interface EventDef {
	group?: string;
	params?: ActionParams;
	context?: boolean;
	handler(ctx: AnyCtx): unknown;
}

/** A @moleculer/channels subscription. */
export interface ChannelDef {
	group?: string;
	maxRetries?: number;
	maxInFlight?: number;
	context?: boolean;
	handler(msg: never, raw?: unknown): unknown;
}

/** Everything in a schema but its settings, mixins and methods, which are inferred. */
interface SchemaBody {
	version?: string | number;
	dependencies?: ServiceSchema["dependencies"];
	metadata?: Record<string, unknown>;
	hooks?: ServiceSchema["hooks"];
	actions?: Record<string, ActionDef | ActionDef["handler"] | false>;
	events?: Record<string, EventDef | EventDef["handler"]>;
	channels?: Record<string, ChannelDef>;
	/** Called with the merged schema (mixins included) before the service is built. */
	merged?(schema: ServiceSchema): void;
	created?(): void;
	started?(): void | Promise<void>;
	stopped?(): void | Promise<void>;
}

/**
 * A service (or mixin) schema, whose `this` (in actions, events, channels,
 * methods and hooks) is inferred from the schema itself: its settings and
 * methods, the state it declares and its mixins' members. A method called
 * on `this` that the schema does not define fails to compile.
 */
export type Schema<S, M, St, Mx extends readonly unknown[], N = object> = SchemaBody & {
	mixins?: Mx;
	settings?: S;
	state?: State<St>;
	/** A mixin's: what it expects of the services that mix it in, without adding it. */
	needs?: State<N>;
	methods?: M & ThisType<This<S, M, St & N, Mx>>;
} & ThisType<This<S, M, St & N, Mx>>;

/** The old form: `this` written out by hand and annotated on each handler (still accepted, for services not yet converted). */
type HandWrittenSchema<S, T> = Omit<ServiceSchema<S, T>, "settings"> & { settings?: Partial<S> };

declare const explicit: unique symbol;
/** The old form's type arguments have no default: without them, a schema is checked in the new form only. */
interface TypeArgumentsRequired {
	readonly [explicit]: true;
}
type HandWritten<T, Sc> = [T] extends [TypeArgumentsRequired] ? never : Sc;

/** The schema without its type-only declarations. */
function toMoleculer({ state: _state, needs: _needs, ...schema }: { state?: unknown; needs?: unknown; name?: string }): ServiceSchema {
	return { name: "", ...schema };
}

/**
 * A service schema, handed to Moleculer as the plain schema it takes.
 *
 *     export default defineService({ name, mixins: [...], settings: {...}, state: state<{...}>(), actions, events, methods, started });
 *
 * The old form, `defineService<Settings, HandWrittenThis>({...})` with
 * `this: HandWrittenThis` on each handler, still compiles.
 */
export function defineService<const Mx extends readonly Mixin[], S, M, St>(schema: Schema<S, M, St, Mx> & { name: string }): ServiceSchema;
export function defineService<S = TypeArgumentsRequired, T = TypeArgumentsRequired>(schema: HandWritten<T, HandWrittenSchema<NoInfer<S>, NoInfer<T>>>): ServiceSchema;
export function defineService(schema: { name: string }): ServiceSchema {
	return toMoleculer(schema);
}

/**
 * The same for a mixin: what it defines (settings, methods, state, its own
 * mixins' members) joins the `this` of each service that mixes it in.
 * `needs` names, as a type, what it expects of those services without adding it.
 */
export function defineMixin<const Mx extends readonly Mixin[], S, M, St, N>(schema: Schema<S, M, St, Mx, N>): Mixin<ServiceBase<S> & MixinMembers<Mx> & M & St>;
export function defineMixin<S = TypeArgumentsRequired, T = TypeArgumentsRequired>(schema: HandWritten<T, Partial<HandWrittenSchema<NoInfer<S>, NoInfer<T>>>>): Mixin<T>;
export function defineMixin(schema: object): Mixin {
	const { name: _name, ...mixin } = toMoleculer(schema);
	return mixin;
}

/** An action's or event's handler as a middleware wraps it. */
export type Handler = (ctx: Context) => Promise<unknown>;

/** What a middleware may hook, with the types Moleculer calls them with. */
export interface MiddlewareDef {
	name: string;
	created?(broker: ServiceBroker): void;
	started?(broker: ServiceBroker): void | Promise<void>;
	stopping?(broker: ServiceBroker): void | Promise<void>;
	stopped?(broker: ServiceBroker): void | Promise<void>;
	serviceStarted?(service: Service): void | Promise<void>;
	localAction?(handler: Handler, action: ActionSchema & { name: string }): Handler;
	remoteAction?(handler: Handler, action: ActionSchema & { name: string }): Handler;
	localEvent?(handler: Handler, event: { name: string }): Handler;
	/** @moleculer/channels' hook around a channel handler. */
	localChannel?(handler: (msg: unknown, raw: unknown) => Promise<unknown>, channel: { name: string }): (msg: unknown, raw: unknown) => Promise<unknown>;
	call?(next: CallNext): CallNext;
	transitMessageHandler?(next: (cmd: string, packet: unknown) => Promise<unknown>): (cmd: string, packet: unknown) => Promise<unknown>;
}

/** An action name, or the endpoint moleculer-web resolved already. */
export type CallTarget = string | { local: boolean };
export type CallNext = (target: CallTarget, params: unknown, opts?: CallingOptions) => Promise<unknown>;

/** A middleware around the broker's calls: `around` decides, for each call, how `next` is called. */
export function defineCallMiddleware(name: string, around: (broker: ServiceBroker, next: CallNext, target: CallTarget, params: unknown, opts: CallingOptions) => Promise<unknown>): Middleware {
	let broker: ServiceBroker;
	return defineMiddleware({
		name,
		created(b: ServiceBroker) {
			broker = b;
		},
		call(next: CallNext): CallNext {
			return (target, params, opts = {}) => around(broker, next, target, params, opts);
		},
	});
}

/** A middleware, its hooks typed, handed to Moleculer as the Middleware it takes. */
export function defineMiddleware(middleware: MiddlewareDef): Middleware {
	// Moleculer types a middleware as an index of unrelated function shapes, which no hook with typed parameters fits.
	return middleware as unknown as Middleware;
}
