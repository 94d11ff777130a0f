/* lib/wake.h: a wake-up never blocks and never fails for want of a listener; a listener gets
 * each datagram; a stale socket file is replaced, anything else at the path refused. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/wake.h"
#include "t/tap.h"

int
main(void)
{
	char dir[] = "/tmp/anvil-wake-XXXXXX", path[256], file[256];
	int fd, fd2, n;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/jobs.wake", dir);
	snprintf(file, sizeof(file), "%s/plain", dir);
	ok(wake_send(path) == AE_OK, "no listener: AE_OK");
	ok(wake_send("/nonexistent-dir/jobs.wake") == AE_OK, "missing directory: AE_OK");
	ok(wake_send("") == AE_IO, "empty path: AE_IO");
	ok((fd = wake_listen(path, 0660)) >= 0, "listen");
	ok(wake_drain(fd) == 0, "nothing pending");
	for (int i = 0; i < 3; i++)
		wake_send(path);
	ok(wake_drain(fd) == 3, "three wake-ups, three datagrams");
	/* Far more than the socket buffer holds: the sender must neither block nor fail. */
	n = 0;
	for (int i = 0; i < 100000; i++)
		n += wake_send(path) == AE_OK;
	ok(n == 100000, "a flooded listener: every send AE_OK, none blocked");
	ok(wake_drain(fd) > 0, "the listener still reads");
	close(fd);
	ok((fd2 = wake_listen(path, 0600)) >= 0, "a stale socket file is replaced");
	if (fd2 >= 0)
		close(fd2);
	if ((f = fopen(file, "w")) != NULL)
		fclose(f);
	ok(wake_listen(file, 0600) < 0, "a regular file at the path is refused");
	unlink(path);
	unlink(file);
	rmdir(dir);
	return done_testing();
}
