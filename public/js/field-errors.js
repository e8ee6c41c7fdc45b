import { el } from "./format.js";

/**
 * Validation errors shown next to their fields. Each field has a slot after
 * it, named by `aria-describedby`; the field is marked `aria-invalid`.
 */
export function fieldErrors(form, fieldInput) {
	const slots = [];

	function slotFor(input) {
		const id = `${input.id}-error`;
		let slot = form.querySelector(`#${CSS.escape(id)}`);
		if (!slot) {
			slot = el("p", { id, class: "field-error" });
			input.after(slot);
		}
		const described = new Set((input.getAttribute("aria-describedby") ?? "").split(" ").filter(Boolean));
		described.add(id);
		input.setAttribute("aria-describedby", [...described].join(" "));
		return slot;
	}

	return {
		clear() {
			for (const { input, slot } of slots.splice(0)) {
				slot.textContent = "";
				input.removeAttribute("aria-invalid");
			}
		},
		/** Shows `message` by the input that `field` (an API field name) maps to; false when no input has it. */
		show(field, message) {
			const input = fieldInput(field);
			if (!input) return false;
			const slot = slotFor(input);
			slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
			input.setAttribute("aria-invalid", "true");
			slots.push({ input, slot });
			return true;
		},
		/** Focuses the first field in error. */
		focusFirst() {
			slots[0]?.input.focus();
		},
	};
}
