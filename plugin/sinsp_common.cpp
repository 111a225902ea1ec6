// Shared parts of ruleopt-sinsp: crash reports, dying with the parent, input errors,
// reading a capture (declared in sinsp_common.h).

#include "sinsp_common.h"

#include <csignal>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "trace.h"

namespace rsinsp
{

// ---------------------------------------------------------------------------
// Progress, for crash reports. libsinsp 2022 trusts the event headers of a capture:
// a corrupted one can make it read through a wild pointer (SIGSEGV inside
// sinsp::next). Exceptions cannot catch that, so the main loops record where they
// are in these globals (plain stores, no cost worth measuring) and a signal handler
// reports them with async-signal-safe write() before re-raising the signal, so the
// parent still sees "killed by signal N" and also learns the last event reached.
// ---------------------------------------------------------------------------

progress g_progress = {PHASE_START, -1, 0, -1, -1};

const char *phase_name(int phase)
{
	switch(phase)
	{
	case PHASE_OPEN: return "open";
	case PHASE_COMPILE: return "compile";
	case PHASE_READ: return "read";
	case PHASE_EXTRACT: return "extract";
	case PHASE_FILTER: return "filter";
	default: return "start";
	}
}

// Async-signal-safe appends (no malloc, no stdio).
size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
	while(*s && pos + 1 < cap) buf[pos++] = *s++;
	return pos;
}

size_t put_int(char *buf, size_t pos, size_t cap, int64_t v)
{
	if(v < 0) return put_str(buf, pos, cap, "null");
	char digits[24];
	size_t n = 0;
	uint64_t u = (uint64_t)v;
	do
	{
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while(u && n < sizeof(digits));
	while(n && pos + 1 < cap) buf[pos++] = digits[--n];
	return pos;
}

extern "C" void on_fatal_signal(int sig)
{
	char buf[256];
	size_t p = 0;
	const size_t cap = sizeof(buf);
	p = put_str(buf, p, cap, "{\"crash\": ");
	p = put_int(buf, p, cap, sig);
	p = put_str(buf, p, cap, ", \"phase\": \"");
	p = put_str(buf, p, cap, phase_name(g_progress.phase));
	p = put_str(buf, p, cap, "\", \"event\": ");
	p = put_int(buf, p, cap, g_progress.event);
	p = put_str(buf, p, cap, ", \"offset\": ");
	p = put_int(buf, p, cap, g_progress.offset);
	p = put_str(buf, p, cap, ", \"rule\": ");
	p = put_int(buf, p, cap, g_progress.rule);
	p = put_str(buf, p, cap, ", \"item\": ");
	p = put_int(buf, p, cap, g_progress.item);
	p = put_str(buf, p, cap, "}\n");
	// A newline first: the crash may have cut a human line of ours in half.
	ssize_t ignored = write(STDERR_FILENO, "\n", 1);
	ignored = write(STDERR_FILENO, buf, p);
	(void)ignored;
	// SA_RESETHAND restored the default action; the re-raised signal is delivered
	// when this handler returns (or the faulting instruction faults again), so the
	// process still dies of `sig` and the parent sees it.
	raise(sig);
}

void install_crash_handlers()
{
	// An alternate stack, so that a stack overflow (a deeply nested condition in
	// libsinsp's recursive compiler) is reported too.
	static char altstack[1 << 16];
	stack_t ss = {};
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	sigaltstack(&ss, nullptr);
	struct sigaction sa = {};
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for(int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
	{
		sigaction(sig, &sa, nullptr);
	}
}

// The tool must not outlive the ruleopt process that started it: the kernel
// sends SIGKILL when the parent dies. The parent may already be gone before
// prctl runs; RULEOPT_PARENT_PID (set by the Python wrapper) tells us who it was.
void die_with_parent()
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	const char *want = getenv("RULEOPT_PARENT_PID");
	if(want != nullptr && *want != '\0')
	{
		char *end = nullptr;
		long pid = strtol(want, &end, 10);
		if(*end == '\0' && pid > 0 && getppid() != (pid_t)pid)
		{
			fprintf(stderr, "ruleopt-sinsp: the parent process %ld is gone; exiting\n", pid);
			_exit(EXIT_INTERNAL);
		}
	}
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

[[noreturn]] void fail(const std::string &msg, const std::string &file, int64_t line, int64_t event)
{
	throw input_error{msg, file, line, event};
}

int report(const input_error &e)
{
	std::string human = "ruleopt-sinsp: ";
	if(!e.file.empty()) human += e.file + ": ";
	if(e.line >= 0) human += "line " + std::to_string(e.line) + ": ";
	human += e.message;
	if(e.event >= 0) human += " (after event " + std::to_string(e.event) + ")";
	std::string js = "{\"error\": ";
	json_string(js, e.message);
	js += ", \"file\": ";
	if(e.file.empty()) js += "null"; else json_string(js, e.file);
	js += ", \"line\": " + (e.line >= 0 ? std::to_string(e.line) : std::string("null"));
	js += ", \"event\": " + (e.event >= 0 ? std::to_string(e.event) : std::string("null"));
	js += "}";
	fprintf(stderr, "%s\n%s\n", human.c_str(), js.c_str());
	return EXIT_INPUT;
}

// libsinsp reports unreadable captures in several ways (exceptions at open, a
// failure code from next(), sometimes a zero-event "success"); we check the
// obvious cases ourselves first so the message names the problem precisely.
void precheck_capture(const std::string &path)
{
	struct stat st;
	if(stat(path.c_str(), &st) != 0)
	{
		fail(std::string("cannot read capture: ") + strerror(errno), path);
	}
	if(!S_ISREG(st.st_mode))
	{
		fail("capture is not a regular file", path);
	}
	if(access(path.c_str(), R_OK) != 0)
	{
		fail(std::string("cannot read capture: ") + strerror(errno), path);
	}
	if(st.st_size == 0)
	{
		fail("capture file is empty", path);
	}
}

void open_capture(sinsp &insp, const std::string &path)
{
	g_progress.phase = PHASE_OPEN;
	g_progress.event = -1;
	g_progress.offset = 0;
	try
	{
		insp.open(path);
	}
	catch(const std::exception &e)
	{
		fail(std::string("cannot open capture (not a readable scap file?): ") + e.what(), path);
	}
}

// Reads the next event; returns nullptr at end of file. Failures mid-file name
// the last good event number. `cycles`, if given, receives the rdtsc cycles spent
// in sinsp::next alone (the harness's per-next() figure).
sinsp_evt *next_event(sinsp &insp, const std::string &path, uint64_t last_num, uint64_t *cycles)
{
	while(true)
	{
		sinsp_evt *evt = nullptr;
		int32_t rc;
		g_progress.phase = PHASE_READ;
		try
		{
			// Untimed when the caller does not ask (the harness's unsampled events).
			if(cycles == nullptr)
			{
				rc = insp.next(&evt);
			}
			else
			{
				uint64_t c0 = trace_rdtsc();
				rc = insp.next(&evt);
				*cycles = trace_rdtsc() - c0;
			}
		}
		catch(const std::exception &e)
		{
			fail(std::string("error reading capture: ") + e.what(), path, -1, (int64_t)last_num);
		}
		if(rc == SCAP_SUCCESS)
		{
			// Where a cut would keep every event read so far intact.
			g_progress.event = (int64_t)evt->get_num();
			g_progress.offset = (int64_t)insp.get_bytes_read();
			return evt;
		}
		if(rc == SCAP_TIMEOUT) continue;
		if(rc == SCAP_EOF) return nullptr;
		std::string err = insp.getlasterr();
		if(err.empty()) err = "scap error code " + std::to_string(rc);
		fail("error reading capture: " + err, path, -1, (int64_t)last_num);
	}
}

std::string type_name(ppm_param_type t)
{
	// libsinsp names types without the enum's PT_ prefix; we keep the prefix so
	// the names match the C enum (PT_CHARBUF, PT_UINT64, ...).
	const char *s = param_type_to_string(t);
	return std::string("PT_") + (s ? s : "UNKNOWN");
}

uint64_t rdtsc_overhead()
{
	// Smallest back-to-back difference: the floor under every measured check.
	uint64_t best = UINT64_MAX;
	for(int i = 0; i < 1000; i++)
	{
		uint64_t a = trace_rdtsc();
		uint64_t b = trace_rdtsc();
		if(b - a < best) best = b - a;
	}
	return best;
}

}  // namespace rsinsp
