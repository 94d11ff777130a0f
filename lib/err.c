#include "lib/err.h"

const char *
anvil_strerror(anvil_err e)
{
	switch (e) {
	case AE_OK: return "ok";
	case AE_NOMEM: return "out of memory";
	case AE_INTERNAL: return "internal error";
	case AE_IO: return "input/output error";
	case AE_TOOBIG: return "input too large";
	case AE_PARSE: return "malformed input";
	case AE_RANGE: return "value out of range";
	case AE_CONFIG: return "configuration error";
	case AE_NOTFOUND: return "not found";
	case AE_EXISTS: return "already exists";
	case AE_TIMEOUT: return "timed out";
	case AE_UNAVAILABLE: return "service unavailable";
	case AE_BUSY: return "busy";
	case AE_DENIED: return "permission denied";
	case AE_CRYPTO: return "cryptographic operation failed";
	case AE_JWS_MALFORMED: return "malformed JWS";
	case AE_JWS_BADSIG: return "JWS signature does not verify";
	case AE_JWS_BADALG: return "unsupported JWS algorithm";
	case AE_JWS_BADKEY: return "unacceptable JWS key";
	case AE_JWS_URL: return "JWS url does not match the request";
	case AE_NONCE_BAD: return "invalid nonce";
	case AE_NONCE_USED: return "nonce already used";
	case AE_NONCE_EXPIRED: return "nonce expired";
	case AE_B64: return "invalid base64url";
	case AE_JSON: return "invalid JSON";
	case AE_DB: return "database error";
	case AE_DB_DOWN: return "database unavailable";
	case AE_DB_DUPLICATE: return "duplicate key";
	case AE_DB_SCHEMA: return "database schema mismatch";
	case AE_SIGNER_PROTO: return "signer protocol error";
	case AE_SIGNER_PROFILE: return "unknown issuance profile";
	case AE_SIGNER_CA: return "refused: CA certificate";
	case AE_SIGNER_KEY: return "refused: key outside the profile";
	case AE_SIGNER_VALIDITY: return "refused: validity outside the profile";
	case AE_SIGNER_NAME: return "refused: identifier outside the name policy";
	case AE_SIGNER_MISMATCH: return "refused: certificate differs from its precertificate";
	case AE_SIGNER_DUPLICATE: return "refused: serial already signed with different contents";
	case AE_SIGNER_DEADLINE: return "deadline passed before signing";
	case AE_SIGNER_HSM: return "HSM error";
	case AE_SIGNER_PERM: return "operation not permitted for this peer";
	case AE_SIGNER_SERIAL: return "refused: invalid serial number";
	case AE_SIGNER_CT: return "refused: SCT list does not match the profile";
	case AE_SIGNER_UNSIGNED: return "refused: serial not signed by this issuer here";
	}
	return "unknown error";
}
