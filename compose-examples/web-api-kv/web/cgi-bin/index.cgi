#!/bin/sh
# The front page: the API's answer, reached by its service name.
body=$(wget -q -O - http://api:8080/cgi-bin/visits || echo '{"error":"api unreachable"}')
printf 'Content-Type: text/html\r\n\r\n'
printf '<h1>%s</h1>\n<pre>%s</pre>\n' "$(cat /www/title)" "$body"
