/** Name rules with no dependencies, so the browser bundle (web/) can import them as values. */

/** Role names: 1–64 of a-z 0-9 . _ - (lower case), starting with a letter or digit. The one copy. */
export const ROLE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/
export const ROLE_NAME_RULE = 'role names are 1–64 of a-z 0-9 . _ - (lower case)'
