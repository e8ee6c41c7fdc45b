const { io } = require("socket.io-client");
const base = "http://localhost:5000";
(async () => {
  const res = await fetch(`${base}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: process.argv[2], password: process.argv[3] }) });
  const socket = io(base, { auth: { token: (await res.json()).token } });
  socket.on("connect_error", (err) => console.error("refused:", err.message));
  socket.onAny((event, payload) => console.log(event, JSON.stringify(payload)));
  socket.emit("call", "products.list", { pageSize: 3 }, (err, page) => console.log("products:", err ?? page.total));
})();
