import fs from "fs";
import path from "path";
import nodemailer from "nodemailer";
import type { DbAdapter, Doc } from "../../lib/db/adapter";
import { isDuplicateKeyError } from "../../lib/db/adapter";
import { MAIL_TEMPLATES, type MailTemplate } from "../../lib/contracts/notifications";
import { findUp } from "../../lib/infra/static-files";

/**
 * Mail: templates kept as files (a text and an HTML one each, the text's
 * first line its `Subject:`), and a transport: SMTP through nodemailer when
 * SMTP_URL is set, else the local outbox the operations page shows, where
 * reset links are masked before they are stored.
 */

export interface RenderedMail {
	subject: string;
	text: string;
	html: string;
}

export interface OutgoingMail extends RenderedMail {
	/** The delivery's id: the Message-ID's local part, and the local outbox's key, so a retry is recognisably the same mail. */
	id: string;
	to: string;
	template: MailTemplate;
}

export interface MailTransport {
	send(mail: OutgoingMail): Promise<void>;
	close?(): void;
}

export type TemplateData = Record<string, string | number | null | undefined>;

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (value: string) => value.replace(/[&<>"']/g, c => HTML_ESCAPES[c]);
const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;

function fill(template: string, data: TemplateData, escape: (v: string) => string): string {
	return template.replace(PLACEHOLDER, (_, name: string) => (Object.hasOwn(data, name) && data[name] != null ? escape(String(data[name])) : ""));
}

/** The folder of the template files, from services/notifications/ and from its compiled twin in dist/. */
const templatesDir = () => path.dirname(findUp("services/notifications/templates/order.placed.txt"));

export class Templates {
	private readonly files = new Map<MailTemplate, { subject: string; text: string; html: string }>();

	constructor(dir = templatesDir()) {
		for (const name of MAIL_TEMPLATES) {
			const [first, ...rest] = fs.readFileSync(path.join(dir, `${name}.txt`), "utf8").split("\n");
			if (!first.startsWith("Subject: ")) throw new Error(`${name}.txt must start with a Subject: line`);
			this.files.set(name, { subject: first.slice("Subject: ".length), text: rest.join("\n").trimStart(), html: fs.readFileSync(path.join(dir, `${name}.html`), "utf8") });
		}
	}

	render(name: MailTemplate, data: TemplateData): RenderedMail {
		const file = this.files.get(name)!;
		return { subject: fill(file.subject, data, v => v.replace(/[\r\n]+/g, " ")), text: fill(file.text, data, v => v), html: fill(file.html, data, escapeHtml) };
	}
}

export class SmtpTransport implements MailTransport {
	private readonly transporter: ReturnType<typeof nodemailer.createTransport>;

	/**
	 * Pooled: a mail goes over a kept connection (at most `connections` of
	 * them: the mail lane's concurrency, up to 32), not a connection and an SMTP
	 * greeting of its own; under P2 the connections per mail were most of its cost. A URL that says `pool=` keeps its own choice.
	 */
	constructor(
		url: string,
		private readonly from: string,
		connections = 5,
	) {
		// Appended, not re-serialised: the URL's credentials stay as they were written.
		const pooled = /[?&]pool=/.test(url) ? url : `${url}${url.includes("?") ? "&" : "?"}pool=true&maxConnections=${connections}`;
		this.transporter = nodemailer.createTransport(pooled);
	}

	async send(mail: OutgoingMail): Promise<void> {
		const domain = /@([^>\s]+)>?$/.exec(this.from)?.[1] ?? "shop.local";
		await this.transporter.sendMail({
			from: this.from,
			to: mail.to,
			subject: mail.subject,
			text: mail.text,
			html: mail.html,
			messageId: `<${mail.id.replace(/[^A-Za-z0-9._-]/g, "-")}@${domain}>`,
		});
	}

	close(): void {
		this.transporter.close();
	}
}

/** A mail kept in the local outbox, as the operations page's Mail panel reads it. */
export interface LocalMail {
	id: string;
	to: string;
	template: MailTemplate;
	subject: string;
	text: string;
	html: string;
	createdAt: string;
}

export interface LocalMailDoc extends Doc, Omit<LocalMail, "id"> {}

/** A reset link's token, wherever it appears. */
const RESET_TOKEN = /([?&]token=)[A-Za-z0-9_-]+/g;
export const maskResetLinks = (text: string) => text.replace(RESET_TOKEN, "$1••••••••");

/** How many mails the local outbox keeps at most, the newest: at hundreds of orders a second its retention alone would keep gigabytes. */
const LOCAL_MAILS_KEPT = 1000;

/** Without SMTP: the mail is kept, masked, for the operations page's Mail panel. */
export class LocalOutbox implements MailTransport {
	constructor(
		private readonly store: DbAdapter<LocalMailDoc>,
		private readonly bounds: { maxKept: number } = { maxKept: LOCAL_MAILS_KEPT },
	) {}

	async send(mail: OutgoingMail): Promise<void> {
		try {
			await this.store.insert({
				_id: mail.id,
				to: mail.to,
				template: mail.template,
				subject: mail.subject,
				text: maskResetLinks(mail.text),
				html: maskResetLinks(mail.html),
				createdAt: new Date().toISOString(),
			});
		} catch (err) {
			if (!isDuplicateKeyError(err)) throw err;
		}
	}

	async latest(limit: number): Promise<LocalMail[]> {
		const docs = await this.store.find({ query: {}, sort: ["-createdAt"], limit });
		return docs.map(({ _id, to, template, subject, text, html, createdAt }) => ({ id: _id, to, template, subject, text, html, createdAt }));
	}

	count(): Promise<number> {
		return this.store.count({ query: {} });
	}

	/** Drops mail kept since before `before`, and all but the newest `maxKept`. */
	async prune(before: Date): Promise<number> {
		const [edge] = await this.store.find({ query: {}, sort: ["-createdAt"], offset: this.bounds.maxKept, limit: 1 });
		const oldest = edge && edge.createdAt >= before.toISOString() ? { $lte: edge.createdAt } : { $lt: before.toISOString() };
		return this.store.removeMany({ createdAt: oldest });
	}
}
