// The page's script in e2e/analytics-browser.test.mjs: Segment's browser SDK as an app bundles it.
import { AnalyticsBrowser } from "@segment/analytics-next";

window.AnalyticsBrowser = AnalyticsBrowser;
