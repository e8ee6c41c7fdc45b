import { io } from "/socket.io/socket.io.esm.min.js";
import { byId, timeOf } from "./format.js";

/** A server that closed the socket itself is asked again after this long (it may be restarting). */
const RECONNECT_AFTER_SERVER_CLOSE_MS = 1000;

const MESSAGES = {
	connecting: () => "Connecting to live updates…",
	live: () => "Live: changes appear as they happen.",
	lost: () => "Live updates lost: reconnecting… What you see may be out of date.",
	restored: at => `Live updates are back (since ${at}); everything shown was reloaded.`,
};

function showConnection(state, at) {
	const banner = byId("connection");
	banner.hidden = false;
	banner.dataset.state = state;
	banner.textContent = MESSAGES[state](at);
}

/**
 * The Socket.IO connection with the user's token, and the banner that says
 * whether it is up. `onRestored` runs after each reconnection (events sent
 * while it was down are lost, so the views reload); `onUnauthorized` when the
 * server refuses the token.
 */
export function connectLive(token, { onRestored, onUnauthorized }) {
	const socket = io({ auth: { token }, transports: ["websocket"] });
	let connectedBefore = false;
	let lost = false;

	showConnection("connecting");
	socket.on("connect", () => {
		if (connectedBefore && lost) {
			showConnection("restored", timeOf(new Date().toISOString()));
			onRestored();
		} else {
			showConnection("live");
		}
		connectedBefore = true;
		lost = false;
	});
	socket.on("disconnect", reason => {
		if (reason === "io client disconnect") return;
		lost = true;
		showConnection("lost");
		// Socket.IO does not reconnect by itself after the server closed the socket.
		if (reason === "io server disconnect") setTimeout(() => socket.connect(), RECONNECT_AFTER_SERVER_CLOSE_MS);
	});
	socket.on("connect_error", err => {
		if (err.message === "unauthorized") {
			socket.disconnect();
			onUnauthorized();
			return;
		}
		lost = true;
		showConnection("lost");
	});

	return {
		on: (event, handler) => socket.on(event, handler),
		close: () => socket.disconnect(),
	};
}
