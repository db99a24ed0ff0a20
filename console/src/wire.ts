// The shapes of the native API's answers that the pages read (a subset of /openapi.json).
export interface Member {
  user_id: string;
  name: string | null;
  email: string | null;
  phone_number: string | null;
  role: string;
}
export interface Role {
  role_id: string;
  name: string;
  level: number;
}
export interface EffectiveRole extends Role {
  direct: boolean;
  via_groups: string[];
}
export interface GroupRef {
  group_id: string;
  name: string;
}
export interface HeldGroup extends GroupRef {
  membership: string;
  role?: string | null;
}
export interface User {
  user_id: string;
  name: string | null;
  email: string | null;
  phone_number: string | null;
  given_name: string | null;
  family_name: string | null;
}
