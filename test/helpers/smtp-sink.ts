import type { AddressInfo } from "net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
	from: string;
	to: string[];
	raw: string;
	/** The message with its quoted-printable soft breaks and escapes undone. */
	decoded: string;
	subject: string;
}

const unquote = (raw: string) => raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** A real SMTP server (`smtp-server`, from the nodemailer project) in the test process, keeping what it receives. */
export class SmtpSink {
	readonly mails: ReceivedMail[] = [];
	/** Refuse every message with a temporary error (a server that is down for mail). */
	refusing = false;
	private readonly server = new SMTPServer({
		authOptional: true,
		disabledCommands: ["STARTTLS", "AUTH"],
		logger: false,
		onData: (stream, session, callback) => {
			const chunks: Buffer[] = [];
			stream.on("data", (c: Buffer) => chunks.push(c));
			stream.on("end", () => {
				if (this.refusing) return callback(Object.assign(new Error("Try again later"), { responseCode: 451 }));
				const raw = Buffer.concat(chunks).toString("utf8");
				this.mails.push({
					from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
					to: session.envelope.rcptTo.map(r => r.address),
					raw,
					decoded: unquote(raw),
					subject: /^Subject: (.*)$/m.exec(raw)?.[1] ?? "",
				});
				callback();
			});
		},
	});

	async start(): Promise<string> {
		await new Promise<void>(resolve => this.server.listen(0, "127.0.0.1", resolve));
		return `smtp://127.0.0.1:${(this.server.server.address() as AddressInfo).port}`;
	}

	to(address: string): ReceivedMail[] {
		return this.mails.filter(m => m.to.includes(address));
	}

	stop(): Promise<void> {
		return new Promise(resolve => this.server.close(() => resolve()));
	}
}
