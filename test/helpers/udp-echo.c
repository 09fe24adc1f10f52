// A UDP echo for network tests, static so it runs in a busybox container.
//   udp-echo serve PORT          answer every datagram with "echo from SOURCE-IP: " + it
//   udp-echo send IP PORT MSG    send MSG, print the answer, exit 0 (1 after 2 s without one)
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[2048];
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (argc == 3 && !strcmp(argv[1], "serve")) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
		if (bind(s, (struct sockaddr *)&a, sizeof a))
			return perror("bind"), 1;
		for (;;) {
			struct sockaddr_in from;
			socklen_t fl = sizeof from;
			char in[1024];
			ssize_t n = recvfrom(s, in, sizeof in - 1, 0, (struct sockaddr *)&from, &fl);
			if (n < 0)
				continue;
			in[n] = 0;
			int k = snprintf(buf, sizeof buf, "echo from %s: %s", inet_ntoa(from.sin_addr), in);
			sendto(s, buf, (size_t)k, 0, (struct sockaddr *)&from, fl);
		}
	}
	if (argc == 5 && !strcmp(argv[1], "send")) {
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
		if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1)
			return fprintf(stderr, "not an IPv4 address: %s\n", argv[2]), 1;
		struct timeval tv = {.tv_sec = 2};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		sendto(s, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&to, sizeof to);
		ssize_t n = recv(s, buf, sizeof buf - 1, 0);
		if (n < 0)
			return fprintf(stderr, "no answer\n"), 1;
		buf[n] = 0;
		printf("%s\n", buf);
		return 0;
	}
	fprintf(stderr, "usage: udp-echo serve PORT | send IP PORT MSG\n");
	return 2;
}
