import type { ServiceSchema } from "moleculer";
import NotificationsService from "../../services/notifications.service";
import { parseSettings, type NotificationSettings } from "../../lib/infra/settings";

/** Settings for a test's notifications service: receivers on 127.0.0.1 allowed, plain http, short retries. */
export function testNotificationSettings(overrides: Partial<NotificationSettings> = {}): NotificationSettings {
	return {
		...parseSettings({ JWT_SECRET: "notifications-test-secret-0123" }).notifications,
		allow: ["127.0.0.1"],
		requireHttps: false,
		retryScheduleMs: [30, 60],
		timeoutMs: 2000,
		pollMs: 50,
		publicUrl: "https://shop.example.com",
		...overrides,
	};
}

/** The service with those settings, replaced whole (a mixin's deep merge would merge arrays by index). */
export function notificationsWith(overrides: Partial<NotificationSettings> = {}): ServiceSchema {
	const base = NotificationsService as ServiceSchema & { settings: object };
	return { ...base, settings: { ...base.settings, notifications: testNotificationSettings(overrides) } };
}
