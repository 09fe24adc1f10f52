import { describe, expect, test } from "vitest";
import { BerthError } from "../core/errors.ts";
import { renderTemplate } from "../core/cli/template.ts";

// Shaped like Engine API JSON (numbers decode as float64 in Go).
const data = {
  Name: "web",
  Id: "0123456789abcdef",
  State: { Status: "running", Running: true, ExitCode: 0, Pid: 1234 },
  Names: ["/web", "/app"],
  Labels: { "com.example.b": "2", "com.example.a": "1" },
  Ports: [
    { PrivatePort: 80, Type: "tcp" },
    { PrivatePort: 443, Type: "udp" },
  ],
  Mounts: [{ Source: "/a", Destination: "/b" }],
  Size: 12345678,
  Ratio: 1.5,
  Big: 1e21,
  Small: 0.00001,
  Empty: [],
  EmptyMap: {},
  Null: null,
  Nested: { List: [1, "x", null, true], Map: { z: 1, a: [1, 2], n: null } },
};

// [template, expected output] as Go's text/template with the Docker CLI's functions prints it.
const cases: [string, string][] = [
  // text, fields, Docker's \t and \n
  ["plain text", "plain text"],
  ["{{.Name}}", "web"],
  ["{{.State.Status}}/{{.State.Pid}}", "running/1234"],
  ["{{.Name}}\\t{{.State.Status}}\\n", "web\trunning\n"],
  ["{{ .Name }}", "web"],
  ["{{(.State).Status}}", "running"],
  // printing like %v of interface{} values
  ["{{.Size}}", "12345678"], // a whole number prints as the int it is in Docker's typed structs
  ["{{.Ratio}} {{.Big}} {{.Small}} {{.State.ExitCode}}", "1.5 1e+21 1e-05 0"],
  ["{{.State.Running}}", "true"],
  ["{{.Names}}", "[/web /app]"],
  ["{{.Labels}}", "map[com.example.a:1 com.example.b:2]"],
  ["{{.Nested.List}}", "[1 x <nil> true]"],
  ["{{.Nested.Map}}", "map[a:[1 2] n:<nil> z:1]"],
  ["{{.Empty}} {{.EmptyMap}}", "[] map[]"],
  ["{{.Missing}}|{{.Null}}|{{.Missing.Deeper}}|{{.Null.X}}", "<no value>|<no value>|<no value>|<no value>"],
  // literals
  ['{{"a\\"b"}} {{`r\\w`}} {{"\\u00e9\\x41"}}', 'a"b r\\w éA'],
  ["{{1.5}} {{1000000}} {{1e6}} {{0x1F}} {{-3}} {{'a'}} {{true}} {{false}}", "1.5 1000000 1000000 31 -3 97 true false"],
  ["{{print nil}}", "<nil>"],
  // json
  ["{{json .State}}", '{"Status":"running","Running":true,"ExitCode":0,"Pid":1234}'],
  ["{{json .Names}}", '["/web","/app"]'],
  ["{{json .Missing}} {{json 3}} {{json \"a<b&\"}}", 'null 3 "a<b&"'],
  ["{{.State | json}}", '{"Status":"running","Running":true,"ExitCode":0,"Pid":1234}'],
  // range
  ["{{range .Names}}[{{.}}]{{end}}", "[/web][/app]"],
  ["{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}", "0=/web 1=/app "],
  ["{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", "com.example.a=1;com.example.b=2;"],
  ["{{range $v := .Labels}}{{$v}}{{end}}", "12"],
  ["{{range .Labels}}{{.}}{{end}}", "12"],
  ["{{range .Ports}}{{.PrivatePort}}/{{.Type}} {{end}}", "80/tcp 443/udp "],
  ["{{range .Empty}}x{{else}}none{{end}} {{range .Missing}}x{{else}}none{{end}}", "none none"],
  ["{{range .Ports}}{{$.Name}}{{end}}", "webweb"],
  ['{{range .Names}}{{if eq . "/app"}}{{break}}{{end}}{{.}}{{end}}', "/web"],
  ["{{range $i, $n := .Names}}{{if eq $i 0}}{{continue}}{{end}}{{$n}}{{end}}", "/app"],
  ["{{range 3}}{{.}}{{end}}", "012"],
  // if / else if / else, with
  ["{{if .Missing}}a{{else if .State.Running}}b{{else}}c{{end}}", "b"],
  ["{{if .Empty}}a{{else if .EmptyMap}}b{{else if .State.ExitCode}}c{{else}}d{{end}}", "d"],
  ["{{if not .State.Running}}a{{else}}b{{end}}", "b"],
  ["{{if and .State.Running .Names}}yes{{end}}", "yes"],
  ["{{with .State}}{{.Status}}{{end}}", "running"],
  ["{{with .Missing}}x{{else}}none{{end}}", "none"],
  ["{{with $s := .State}}{{$s.Pid}}{{end}}", "1234"],
  ["{{with .Missing}}a{{else with .State}}{{.Status}}{{end}}", "running"],
  // and / or return the deciding operand
  ['{{or .Missing "default"}}', "default"],
  ['{{and 1 0 2}} {{or 0 "" "x" "y"}} {{and .State.Running .Name}}', "0 x web"],
  // variables
  ["{{$n := .Name}}{{$n}}-{{$.Name}}", "web-web"],
  ['{{$x := "a"}}{{range .Names}}{{$x = .}}{{end}}{{$x}}', "/app"],
  ["{{$s := .State}}{{$s.Status}}", "running"],
  // comparisons (ExitCode is an int in Docker's structs; ints and floats compare by value here)
  ['{{eq .State.Status "running"}} {{eq .Name "a" "b" "web"}} {{ne .Name "web"}}', "true true false"],
  ["{{eq .State.ExitCode 0}} {{if eq .State.ExitCode 0}}ok{{end}}", "true ok"],
  ['{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}} {{lt .Ratio 2.0}}', "true true true false true"],
  // len, index, slice
  ['{{len .Names}} {{len .Labels}} {{len "héllo"}}', "2 2 6"],
  ['{{index .Labels "com.example.a"}} {{index .Names 1}} {{index .Nested.Map "a" 1}}', "1 /app 2"],
  ["{{(index .Ports 1).PrivatePort}} {{(index .Mounts 0).Source}}", "443 /a"],
  ['{{index .Labels "nope"}}', "<no value>"],
  ["{{slice .Names 1}} {{slice .Id 0 12}} {{slice .Id 14}}", "[/app] 0123456789ab ef"],
  // printf
  ['{{printf "%-10s|" .Name}}', "web       |"],
  ['{{printf "%5d|%-5d|%05d|%+d" .State.Pid 42 42 5}}', " 1234|42   |00042|+5"],
  ['{{printf "%.2f %f %8.3f| %6.2f%%" .Ratio .Ratio 3.14159 12.5}}', "1.50 1.500000    3.142|  12.50%"],
  ['{{printf "%v %s %q" .Names .Name .Name}}', '[/web /app] web "web"'],
  ['{{printf "%t %x %X %x %%" true 255 "hi" -255}}', "true ff 6869 -ff %"],
  ['{{printf "%v|%v|%e|%g|%.3g" .Size .Labels 1234.5678 .Small 1234.5678}}', "12345678|map[com.example.a:1 com.example.b:2]|1.234568e+03|1e-05|1.23e+03"],
  // (a \n inside a string literal would become a newline first, as in Docker)
  ['{{printf "%q" "a\\"b\\x01"}}', '"a\\"b\\x01"'],
  ['{{printf "%d %d" 1}}|{{printf "%d" 1 2}}|{{printf "%s" 3}}|{{printf "%d" "x"}}', '1 %!d(MISSING)|1%!(EXTRA int=2)|%!s(int=3)|%!d(string=x)'],
  ['{{printf "%s %v" .Missing .Null}}', "%!s(<nil>) <nil>"],
  ['{{printf "%.3s|%8.2v|" "abcdef" "xyz"}}', "abc|      xy|"],
  ['{{.Name | printf "%s-%s" "x"}}', "x-web"],
  // print, println, html, js, urlquery
  ['{{print "a" 1 2 "b" true}}', "a1 2btrue"],
  ['{{println "a" 1}}', "a 1\n"],
  ["{{print .Missing}}", "<nil>"],
  ['{{html "<a href=\\"x\\">&\'"}}', "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"],
  ['{{js "it\'s <b>="}}', "it\\'s \\u003Cb\\u003E\\u003D"],
  ['{{urlquery "a b&c=d/é"}}', "a+b%26c%3Dd%2F%C3%A9"],
  // pipelines and Docker's string functions
  ["{{.Name | upper}} {{.Names | len}}", "WEB 2"],
  ['{{split "a,b,c" ","}} {{join .Names ","}} {{join (split "a:b" ":") "-"}}', "[a b c] /web,/app a-b"],
  ['{{title "hello wide-world_x"}} {{lower "ABC"}} {{upper .Name}}', "Hello Wide-World_x abc WEB"],
  ['[{{pad .Name 2 3}}] [{{pad "" 2 3}}]', "[  web   ] []"],
  ['{{truncate .Id 5}} {{truncate "ab" 5}} {{truncate .Id 12 | upper}}', "01234 ab 0123456789AB"],
  // trim markers and comments
  ["a  {{- .Name -}}  b", "awebb"],
  ["a\n\t{{- .Name}}\n", "aweb\n"],
  ["{{.Name -}}\n\n x", "webx"],
  ["a {{- 3}} {{-3}}", "a3 -3"],
  ["x {{/* c */}} y", "x  y"],
  ["x {{- /* a\nmultiline comment */ -}} y", "xy"],
];

const render = (tpl: string, d: unknown = data) => renderTemplate(tpl, d);

describe("renderTemplate", () => {
  test.each(cases)("%s", (tpl, want) => {
    expect(render(tpl)).toBe(want);
  });

  test("dot of scalars and lists", () => {
    expect(render("{{.}}", "hi")).toBe("hi");
    expect(render("{{.}}", [1, "a"])).toBe("[1 a]");
    expect(render("{{.}}", null)).toBe("<no value>");
  });
});

// [template, the message (or its start)]
const errors: [string, string][] = [
  ["{{foo}}", 'template: :1: function "foo" not defined'],
  ["a\n{{foo .X}}", 'template: :2: function "foo" not defined'],
  ["{{if .Name}}x", "template: :1: unexpected EOF"],
  ["{{range .Names}}{{if .}}x{{end}}", "template: :1: unexpected EOF"],
  ["{{end}}", "template: :1: unexpected {{end}}"],
  ["{{else}}", "template: :1: unexpected {{else}}"],
  ["{{.Name", "template: :1: unclosed action"],
  ["{{$x}}", 'template: :1: undefined variable "$x"'],
  ["{{if true}}{{$y := 1}}{{end}}{{$y}}", 'template: :1: undefined variable "$y"'],
  ["{{$z = 1}}", 'template: :1: undefined variable "$z"'],
  ["{{break}}", "template: :1: {{break}} outside {{range}}"],
  ['{{"abc}}', "template: :1: unterminated quoted string"],
  ['{{.Name | "x"}}', "template: :1: non executable command in pipeline stage 2"],
  ["{{/* x */ .Name}}", "template: :1: comment ends before closing delimiter"],
  ["{{}}", "template: :1: missing value for command"],
  ["{{if}}{{end}}", "template: :1: missing value for if"],
  ["{{nil}}", "template: :1: nil is not a command"],
  ["{{3x}}", 'template: :1: bad number syntax: "3x"'],
  ["{{.Name !}}", "template: :1: unrecognized character in action: U+0021 '!'"],
  ["{{.Name.First}}", 'template: :1:7: executing "" at <.Name.First>: can\'t evaluate field First in type string'],
  ["{{.Names.X}}", "can't evaluate field X in type []interface {}"],
  ["{{.State.Pid.X}}", "can't evaluate field X in type float64"],
  ["{{index .Names 5}}", 'template: :1:2: executing "" at <index .Names 5>: error calling index: index out of range: 5'],
  ['{{index .Names "a"}}', "error calling index: cannot index slice/array with type string"],
  ["{{len 3}}", "error calling len: len of type int"],
  ["{{upper 3}}", "wrong type for value; expected string; got int"],
  ["{{len .Names .Names}}", "wrong number of args for len: want 1 got 2"],
  ["{{range 1.5}}{{end}}", "range can't iterate over 1.5"],
  ['{{eq "a" 1}}', "error calling eq: incompatible types for comparison"],
  ["{{lt true false}}", "error calling lt: invalid type for comparison"],
  ['{{"x" .Name}}', "can't give argument to non-function"],
];

describe("renderTemplate errors", () => {
  test.each(errors)("%s", (tpl, msg) => {
    let err: unknown;
    try {
      render(tpl);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).kind).toBe("InvalidArgument");
    expect((err as BerthError).message.startsWith("template: ")).toBe(true);
    expect((err as BerthError).message).toContain(msg);
  });
});
