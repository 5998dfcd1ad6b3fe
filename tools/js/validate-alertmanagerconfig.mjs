// Validate AlertmanagerConfig documents (monitoring.coreos.com/v1alpha1) against the
// prometheus-operator CRD schema, as the Kubernetes API server does. Child routes are free-form
// JSON in the CRD, so each is validated as a route of its own. Reads a JSON array of documents
// on stdin; prints a JSON array of error messages (empty: all valid).
import { AlertmanagerConfig } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/AlertmanagerConfig";

const input = await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
});

const errors = [];
function check(document, where) {
  try {
    new AlertmanagerConfig(document).validate();
  } catch (error) {
    errors.push(`${where}: ${error.message}`);
  }
}
function checkRoutes(document, route, where) {
  (route.routes ?? []).forEach((child, index) => {
    const path = `${where}.routes[${index}]`;
    check({ ...document, spec: { ...document.spec, route: child } }, path);
    checkRoutes(document, child, path);
  });
}
JSON.parse(input).forEach((document, index) => {
  check(document, `document ${index}`);
  if (document?.spec?.route) checkRoutes(document, document.spec.route, `document ${index} route`);
});
process.stdout.write(JSON.stringify(errors));
