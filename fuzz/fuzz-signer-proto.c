/* libFuzzer target for the signer protocol decoder (ca/proto.c): any bytes must decode or be
 * refused without a crash, a leak or a read past the frame; what decodes must re-encode to the
 * same bytes. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ca/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	struct reply rep;
	struct buf b;

	if (proto_decode_request(data, size, &req) == AE_OK) {
		buf_init(&b, PROTO_FRAME_MAX + 4);
		if (proto_encode_request(&req, &b) != AE_OK || b.len != size + 4 ||
		    memcmp(b.data + 4, data, size) != 0)
			abort();
		buf_free(&b);
		proto_request_free(&req);
	}
	(void)proto_decode_reply(data, size, &rep);
	return 0;
}
