/*
 * berth-attach-relay: conmon's attach socket for a Node process.
 *
 * conmon serves a container's stdio on a SOCK_SEQPACKET unix socket (<socket dir>/<id>/attach):
 * each packet it sends starts with a byte naming the stream (2 stdout, 3 stderr); each packet it
 * receives is stdin for the container, and a shutdown of our sending side closes that stdin.
 * Node's net module speaks only stream sockets, where packet boundaries (and so which stream a
 * byte came from) would be lost. This relay keeps them:
 *
 *   fd 3     the container's socket directory, opened by berthd (the socket path through
 *            /proc/self/fd stays under the 108 bytes a unix socket path may have)
 *   stdout   every packet from conmon as a frame: 4-byte big-endian length, then the packet as
 *            conmon sent it. The first frame is empty: connected.
 *   stdin    the container's stdin, passed on in packets of at most STDIN_CHUNK bytes; its end
 *            shuts down our sending side.
 *   exit     0 when conmon closes the socket; 1 with a message on stderr when it cannot connect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* conmon's packets are at most 8192 bytes of output and the stream byte; a larger buffer never truncates one. */
#define PACKET_MAX 65536
/* conmon reads stdin packets into a buffer of its own; smaller packets than that are never cut. */
#define STDIN_CHUNK 8192

static int write_all(int fd, const void *data, size_t length) {
  const char *p = data;
  while (length > 0) {
    ssize_t n = write(fd, p, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    length -= (size_t)n;
  }
  return 0;
}

static int write_frame(const char *packet, size_t length) {
  unsigned char header[4] = {(unsigned char)(length >> 24), (unsigned char)(length >> 16), (unsigned char)(length >> 8), (unsigned char)length};
  if (write_all(STDOUT_FILENO, header, sizeof header) < 0) return -1;
  return length ? write_all(STDOUT_FILENO, packet, length) : 0;
}

static int connect_attach_socket(void) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  snprintf(address.sun_path, sizeof address.sun_path, "/proc/self/fd/3/attach");
  int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  while (connect(sock, (struct sockaddr *)&address, sizeof address) < 0) {
    if (errno == EINTR) continue;
    int saved = errno;
    close(sock);
    errno = saved;
    return -1;
  }
  return sock;
}

int main(void) {
  /* A reader that went away (berthd closed the attach) ends the relay through write's error, not a signal. */
  signal(SIGPIPE, SIG_IGN);
  int sock = connect_attach_socket();
  if (sock < 0) {
    fprintf(stderr, "attach-relay: cannot connect to the attach socket: %s\n", strerror(errno));
    return 1;
  }
  close(3);
  if (write_frame(NULL, 0) < 0) return 0;

  static char packet[PACKET_MAX];
  static char input[STDIN_CHUNK];
  struct pollfd fds[2] = {{.fd = sock, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents) {
      ssize_t n = recv(sock, packet, sizeof packet, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0; /* conmon closed the socket: the container's stdio is gone */
      if (write_frame(packet, (size_t)n) < 0) return 0;
    }
    if (fds[1].revents) {
      ssize_t n = read(STDIN_FILENO, input, sizeof input);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        /* berthd ended the input: the container's stdin closes; output keeps coming. */
        shutdown(sock, SHUT_WR);
        fds[1].fd = -1;
        continue;
      }
      ssize_t sent;
      while ((sent = send(sock, input, (size_t)n, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
      if (sent < 0) {
        /* The container's stdin is closed: further input goes nowhere, and berthd's writes fail. */
        close(STDIN_FILENO);
        fds[1].fd = -1;
      }
    }
  }
}
