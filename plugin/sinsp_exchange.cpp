// The exchange with ruleopt/events/sinsp.py: netstring records in, JSON strings out,
// atomic output files (declared in sinsp_common.h).

#include "sinsp_common.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace rsinsp
{

// ---------------------------------------------------------------------------
// JSON writing. Hand-rolled because it is tiny and keeps the output exactly as we
// want it: non-UTF-8 bytes become lone surrogates \udcXX, which Python's json
// module accepts and which round-trip to the original bytes with
// str.encode("utf-8", "surrogateescape").
// ---------------------------------------------------------------------------

void json_string(std::string &out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	out.push_back('"');
	const auto *p = reinterpret_cast<const unsigned char *>(s);
	size_t i = 0;
	while(i < n)
	{
		unsigned char c = p[i];
		if(c < 0x80)
		{
			switch(c)
			{
			case '"': out += "\\\""; break;
			case '\\': out += "\\\\"; break;
			case '\n': out += "\\n"; break;
			case '\r': out += "\\r"; break;
			case '\t': out += "\\t"; break;
			default:
				if(c < 0x20 || c == 0x7f)
				{
					out += "\\u00";
					out.push_back(hex[c >> 4]);
					out.push_back(hex[c & 15]);
				}
				else
				{
					out.push_back(static_cast<char>(c));
				}
			}
			i++;
			continue;
		}
		// Validate one UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF).
		size_t len = 0;
		uint32_t cp = 0;
		if(c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
		else if(c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
		else if(c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
		bool ok = len != 0 && i + len <= n;
		for(size_t k = 1; ok && k < len; k++)
		{
			if((p[i + k] & 0xc0) != 0x80) ok = false;
			else cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if(ok && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
			  (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
		{
			ok = false;
		}
		if(ok)
		{
			out.append(reinterpret_cast<const char *>(p + i), len);
			i += len;
		}
		else
		{
			out += "\\udc";
			out.push_back(hex[c >> 4]);
			out.push_back(hex[c & 15]);
			i++;
		}
	}
	out.push_back('"');
}

void json_string(std::string &out, const std::string &s)
{
	json_string(out, s.data(), s.size());
}

// Reads netstrings ("<length>:<bytes>,", length in decimal) from a file or, for
// "-", standard input (the Python wrapper streams its input there: no temporary
// files). Each record is returned byte for byte, NUL and line breaks included.
std::vector<std::string> read_records(const std::string &path, const char *what)
{
	std::string data;
	if(path == "-")
	{
		// Plain read(2): iostreams synced with stdio read a byte at a time.
		char buf[1 << 16];
		while(true)
		{
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if(n == 0) break;
			if(n < 0 && errno == EINTR) continue;
			if(n < 0)
			{
				fail(std::string("cannot read ") + what + " from standard input: " + strerror(errno),
				     "<stdin>");
			}
			data.append(buf, (size_t)n);
		}
	}
	else
	{
		std::ifstream in(path, std::ios::binary);
		if(!in)
		{
			fail(std::string("cannot read ") + what + ": " + strerror(errno), path);
		}
		data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
	}
	const std::string where = path == "-" ? "<stdin>" : path;
	std::vector<std::string> records;
	size_t pos = 0;
	while(pos < data.size())
	{
		size_t start = pos;
		uint64_t len = 0;
		size_t ndigits = 0;
		while(pos < data.size() && data[pos] >= '0' && data[pos] <= '9' && ndigits < 12)
		{
			len = len * 10 + (uint64_t)(data[pos] - '0');
			pos++;
			ndigits++;
		}
		std::string at = " at byte " + std::to_string(start) + " (record " +
				 std::to_string(records.size() + 1) + ")";
		if(ndigits == 0 || pos >= data.size() || data[pos] != ':')
		{
			fail(std::string("malformed ") + what + ": expected '<length>:' netstring" + at, where);
		}
		pos++;
		if(len > data.size() - pos || data.size() - pos - len < 1 || data[pos + len] != ',')
		{
			fail(std::string("malformed ") + what + ": record of " + std::to_string(len) +
				     " bytes is truncated or not followed by ','" + at,
			     where);
		}
		records.emplace_back(data, pos, len);
		pos += len + 1;
	}
	return records;
}

void write_output(const std::string &doc, const std::string &out_path)
{
	if(out_path.empty())
	{
		fwrite(doc.data(), 1, doc.size(), stdout);
		fflush(stdout);
		return;
	}
	// Atomic: write a sibling temp file, then rename over the target.
	std::string tmp = out_path + ".tmp." + std::to_string(getpid());
	FILE *f = fopen(tmp.c_str(), "wb");
	if(f == nullptr)
	{
		fail(std::string("cannot write output: ") + strerror(errno), out_path);
	}
	bool ok = fwrite(doc.data(), 1, doc.size(), f) == doc.size();
	ok = (fclose(f) == 0) && ok;
	if(!ok || rename(tmp.c_str(), out_path.c_str()) != 0)
	{
		unlink(tmp.c_str());
		fail(std::string("cannot write output: ") + strerror(errno), out_path);
	}
}

void json_cell(std::string &out, const trace_cell_t &c)
{
	out += "{\"count\": " + std::to_string(c.count) + ", \"sum\": " + std::to_string(c.sum) + ", \"hist\": [";
	for(size_t i = 0; i < TRACE_HIST_BUCKETS; i++)
	{
		if(i) out.push_back(',');
		out += std::to_string(c.hist[i]);
	}
	out += "]}";
}

}  // namespace rsinsp
