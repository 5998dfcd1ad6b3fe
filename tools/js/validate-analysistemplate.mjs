// Validate Argo Rollouts AnalysisTemplate documents (argoproj.io/v1alpha1) against the CRD
// schema of @kubernetes-models/argo-rollouts. Reads a JSON array of documents on stdin; prints
// a JSON array of error messages (empty: all valid).
import { AnalysisTemplate } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate";

const input = await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
});

const errors = [];
JSON.parse(input).forEach((document, index) => {
  try {
    new AnalysisTemplate(document).validate();
  } catch (error) {
    errors.push(`document ${index}: ${error.message}`);
  }
});
process.stdout.write(JSON.stringify(errors));
