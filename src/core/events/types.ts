// The event types readers see, and the stored actions (audit_log.action) they name.

/** Stored action → the event type readers see. */
export const TYPES = {
  "group.create": "group.created",
  "group.update": "group.updated",
  "group.delete": "group.deleted",
  "members.add": "group.members.added",
  "members.remove": "group.members.removed",
  "members.role": "group.members.role_changed",
  "members.expiry": "group.members.expiry_changed",
  "members.replace": "group.members.replaced",
  "hierarchy.link": "group.children.linked",
  "hierarchy.unlink": "group.children.unlinked",
  "roles.assign": "group.roles.assigned",
  "roles.remove": "group.roles.removed",
  "rule.set": "group.rule.set",
  "rule.delete": "group.rule.deleted",
  "tracking.group": "group.traits.changed",
  "user.create": "user.created",
  "user.update": "user.updated",
  "user.delete": "user.deleted",
  "config.update": "config.updated",
  "key.create": "api_key.created",
  "key.revoke": "api_key.revoked",
  "webhook.create": "webhook.created",
  "webhook.update": "webhook.updated",
  "webhook.delete": "webhook.deleted",
} as const satisfies Record<string, string>;

export type EventType = (typeof TYPES)[keyof typeof TYPES];
export const EVENT_TYPES = Object.values(TYPES) as [EventType, ...EventType[]];
export const ACTION_OF = new Map(Object.entries(TYPES).map(([action, type]) => [type as string, action]));

/** The stored actions of these types, as the JSON array SQL's json_each reads. */
export const actionsOf = (types: readonly EventType[]) => JSON.stringify(types.map((t) => ACTION_OF.get(t)));
