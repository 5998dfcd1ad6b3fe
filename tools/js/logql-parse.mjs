// Parse LogQL expressions with Grafana's own grammar (@grafana/lezer-logql, what Grafana's
// query editor uses). Reads a JSON array of strings on stdin; prints a JSON array of
// {expr, ok, error} on stdout. A syntax error is a node of the error type in the parse tree.
import { parser } from "@grafana/lezer-logql";

const input = await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
});

const results = JSON.parse(input).map((expr) => {
  const tree = parser.parse(expr);
  let error = null;
  tree.iterate({
    enter(node) {
      if (error === null && node.type.isError) {
        error = `syntax error at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.from + 30))}`;
      }
    },
  });
  const top = tree.topNode.firstChild;
  if (error === null && (top === null || top.name !== "Expr")) {
    error = "not a LogQL expression";
  }
  return { expr, ok: error === null, error };
});
process.stdout.write(JSON.stringify(results));
