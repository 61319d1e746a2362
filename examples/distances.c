/* Build a few query regions and rank points by their distance to them.
 * Shows: creating hyperboloids, AND / OR, distances to a set of points,
 * and the error model.  Run: ./distances */
#include <anthem/anthem.h>

#include <stdio.h>

static int fail(int rc)
{
	fprintf(stderr, "error %d (%s): %s\n", rc, anthem_strerror(rc),
		anthem_last_error());
	return 1;
}

int main(void)
{
	/* "electronics" is broad, "computer" and "phone" are narrower regions
	 * inside it; points are products in the Poincaré ball (c = 1). */
	const float c_elec[2] = {0.00f, 0.00f}, l_elec[2] = {0.60f, 0.60f};
	const float c_comp[2] = {0.30f, 0.10f}, l_comp[2] = {0.15f, 0.15f};
	const float c_phone[2] = {-0.30f, 0.20f}, l_phone[2] = {0.12f, 0.12f};
	const char *names[] = {"laptop", "tablet", "smartphone", "toaster"};
	const float products[] = {0.32f, 0.12f,  0.25f, 0.02f,
				  -0.31f, 0.22f, 0.70f, 0.60f};
	anthem_hyperboloid *elec = NULL, *comp = NULL, *phone = NULL,
			   *comp_or_phone = NULL, *q = NULL;
	anthem_vectors *items = NULL;
	int rc, status = 1;
	const anthem_geometry g = ANTHEM_GEOMETRY_HYPERBOLIC;
	if ((rc = anthem_hyperboloid_create(&elec, g, 1.0f, 2, c_elec, l_elec)) ||
	    (rc = anthem_hyperboloid_create(&comp, g, 1.0f, 2, c_comp, l_comp)) ||
	    (rc = anthem_hyperboloid_create(&phone, g, 1.0f, 2, c_phone, l_phone)) ||
	    (rc = anthem_hyperboloid_union(&comp_or_phone, comp, phone)) ||
	    (rc = anthem_hyperboloid_intersect(&q, elec, comp_or_phone)) ||
	    (rc = anthem_vectors_wrap(&items, 4, 2, products))) {
		status = fail(rc);
		goto out;
	}
	printf("libanthem %s\n", anthem_version_string());
	const struct {
		const char *name;
		const anthem_hyperboloid *h;
	} queries[] = {{"electronics", elec},
		       {"computer", comp},
		       {"electronics AND (computer OR phone)", q}};
	for (size_t i = 0; i < 3; i++) {
		float d[4];
		if ((rc = anthem_hyperboloid_distances(queries[i].h, items, 0.5f,
						       d))) {
			status = fail(rc);
			goto out;
		}
		printf("query: %s\n", queries[i].name);
		for (size_t p = 0; p < 4; p++) {
			int in = 0;
			anthem_hyperboloid_contains(queries[i].h,
						    products + 2 * p, 2, &in);
			printf("  %-11s distance %.4f%s\n", names[p], d[p],
			       in ? "  (inside)" : "");
		}
	}
	/* bad input is an error with a message, never a crash */
	const float outside[2] = {1.5f, 0.0f};
	float d;
	rc = anthem_hyperboloid_distance(elec, outside, 2, 0.5f, &d);
	printf("a point outside the ball: %s: %s\n", anthem_strerror(rc),
	       anthem_last_error());
	status = 0;
out:
	anthem_vectors_free(items);
	anthem_hyperboloid_free(q);
	anthem_hyperboloid_free(comp_or_phone);
	anthem_hyperboloid_free(phone);
	anthem_hyperboloid_free(comp);
	anthem_hyperboloid_free(elec);
	return status;
}
