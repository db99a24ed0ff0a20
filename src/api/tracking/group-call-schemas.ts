// The group calls of seeds 002 (POST /api/group) and 003 (POST /group): snake_case
// events, validated whole before anything is applied.
import { z } from "zod";
import { idSchema } from "../../core/shared/validation";

const isoTimestamp = z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time, such as 2023-12-14T16:07:33.571Z" });
const str = z.string().max(2_000);
const strings = z.array(z.string().max(2_000)).max(1_000);
const int = z.number().int();

// Seed 002's documented traits, by their documented types; others pass through.
const enrichment = {
  enrichment_name: str,
  enrichment_legal_name: str,
  enrichment_domain: str,
  enrichment_domain_aliases: strings,
  enrichment_phone_numbers: strings,
  enrichment_email_addresses: strings,
  enrichment_sector: str,
  enrichment_industry_group: str,
  enrichment_industry: str,
  enrichment_sub_industry: str,
  enrichment_tags: strings,
  enrichment_description: str,
  enrichment_founder_year: int,
  enrichment_location: str,
  enrichment_time_zone: str,
  enrichment_street_number: str,
  enrichment_street_name: str,
  enrichment_street_address: str,
  enrichment_city: str,
  enrichment_postal_code: str,
  enrichment_state: str,
  enrichment_state_code: str,
  enrichment_country: str,
  enrichment_country_code: str,
  enrichment_logo: str,
  enrichment_linkedin_handle: str,
  enrichment_facebook_handle: str,
  enrichment_twitter_handle: str,
  enrichment_crunchbase_handle: str,
  enrichment_email_provider: str,
  enrichment_type: str,
  enrichment_phone: str,
  enrichment_traffic_rank: str,
  enrichment_employees: int,
  enrichment_employees_range: str,
  enrichment_market_cap: str,
  enrichment_raised: str,
  enrichment_annual_revenue: str,
  enrichment_tech: str,
  enrichment_tech_categories: strings,
};
const optional = <T extends Record<string, z.ZodType>>(shape: T) =>
  Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as { [K in keyof T]: z.ZodOptional<T[K]> };

const seed002Known = {
  group_type: z.string({ message: "is required (e.g. Account, Team)" }).min(1).max(64),
  name: str.optional(),
  planName: str.optional(),
  domain: str.optional(),
};

/** Every documented trait a property: what the OpenAPI document shows. */
const seed002TraitsDocumented = z.looseObject({ ...seed002Known, ...optional(enrichment) });

// Requests are checked the same way, but the enrichment traits key by key, only those an
// event carries: an object schema holding all forty looks each of them up in every one of
// up to 1,000 events.
const enrichmentSchemas: Record<string, z.ZodType> = enrichment;
const seed002Traits = z.looseObject(seed002Known).superRefine(
  (traits, ctx) => {
    for (const [key, value] of Object.entries(traits)) {
      const checked = Object.hasOwn(enrichmentSchemas, key) ? enrichmentSchemas[key]!.safeParse(value) : undefined;
      for (const issue of checked?.error?.issues ?? [])
        ctx.addIssue({ code: "custom", message: issue.message, path: [key, ...issue.path] });
    }
  },
  // Also with group_type missing, so one answer lists every bad trait.
  { when: (payload) => typeof payload.value === "object" && payload.value !== null && !Array.isArray(payload.value) },
);

const address = z.strictObject({
  city: str.optional(),
  country: str.optional(),
  postal_code: str.optional(),
  state: str.optional(),
  street: str.optional(),
});
const seed003Traits = z.looseObject({
  group_type: z.string().min(1).max(64).optional(),
  name: str.optional(),
  address: address.optional(),
  avatar: str.optional(),
  description: str.optional(),
  email: str.optional(),
  employees: str.optional(),
  phone: str.optional(),
  website: str.optional(),
  plan: str.optional(),
});

const event = <T extends z.ZodType>(traits: T) =>
  z
    .looseObject({
      user_id: idSchema,
      group_id: idSchema.optional(),
      timestamp: isoTimestamp,
      traits,
      context: z.looseObject({ group_id: idSchema.optional() }).optional(),
      message_id: z.string().min(1).max(200).optional(),
    })
    .refine((e) => e.group_id !== undefined || e.context?.group_id !== undefined, {
      message: "group_id is required (or context.group_id)",
      path: ["group_id"],
    });

export const seed002Event = event(seed002Traits);
export const seed002EventDocumented = event(seed002TraitsDocumented);
export const seed003Event = event(seed003Traits);
export type GroupCallEvent = z.infer<typeof seed002Event> | z.infer<typeof seed003Event>;
