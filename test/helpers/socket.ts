import { io, type Socket } from "socket.io-client";

/** A connected Socket.IO client, or the connection error's message. */
export function connectSocket(url: string, token?: string): Promise<Socket> {
	const socket = io(url, { auth: token === undefined ? {} : { token }, transports: ["websocket"], reconnection: false, forceNew: true });
	return new Promise((resolve, reject) => {
		socket.once("connect", () => resolve(socket));
		socket.once("connect_error", err => {
			socket.close();
			reject(err);
		});
	});
}

/** Records every event a socket receives. */
export function recordEvents(socket: Socket): Array<{ event: string; payload: any }> {
	const seen: Array<{ event: string; payload: any }> = [];
	socket.onAny((event, payload) => seen.push({ event, payload }));
	return seen;
}

/** moleculer-io's `call`, as a promise. */
export function socketCall(socket: Socket, action: string, params: object = {}): Promise<any> {
	return new Promise((resolve, reject) => {
		// moleculer-io answers an error as a plain object of the contract's shape, not an Error.
		// eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
		socket.emit("call", action, params, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res)));
	});
}
