// KEY_ENCRYPTION_KEY from deploy-time randomness. ARM's only random source is newGuid() (version 4
// GUIDs: 122 random bits each, allowed only in parameter defaults), and Bicep has no byte type, so
// the key is built as text: the random hex digits of three GUIDs (their version digit and variant
// digit dropped: 30 fully random digits each, 90 in all), the first 64 of them read as 32 bytes and
// written as standard base64, 44 characters with one "=". That is exactly what `openssl rand
// -base64 32` prints and what shared/config/parse.ts decodeKey accepts (32 bytes).
// test/infra/arm.test.ts evaluates this function with the Bicep console and decodes the result
// with the service's own parser.

// The 30 digits of a GUID that are random: all but the version digit (index 12 of the 32) and the
// variant digit (index 16, only 2 of its bits random).
func randomHex(guid string) string =>
  '${substring(replace(toLower(guid), '-', ''), 0, 12)}${substring(replace(toLower(guid), '-', ''), 13, 3)}${substring(replace(toLower(guid), '-', ''), 17, 15)}'

func nibble(hex string, i int) int => indexOf('0123456789abcdef', substring(hex, i, 1))

func b64(sextet int) string => substring('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', sextet, 1)

// Three hex digits (12 bits) are two base64 characters.
func triple(hex string, g int) string =>
  '${b64(nibble(hex, 3 * g) * 4 + nibble(hex, 3 * g + 1) / 4)}${b64(nibble(hex, 3 * g + 1) % 4 * 16 + nibble(hex, 3 * g + 2))}'

// 64 hex digits = 256 bits: 21 triples (252 bits, 42 characters), then the last 4 bits in the top
// of a 43rd character, then the padding.
func base64OfHex256(hex string) string => '${join(map(range(0, 21), g => triple(hex, g)), '')}${b64(nibble(hex, 63) * 4)}='

@export()
@description('32 random bytes, base64, from three newGuid() values.')
func keyEncryptionKeyFromGuids(guids string[]) string =>
  base64OfHex256(join(map(guids, g => randomHex(g)), ''))
